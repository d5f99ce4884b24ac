"""A negotiator works from a spreadsheet in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, expect

from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from offers.spreadsheets import write_workbook
from schemas.portal import Role
from tests.browser import sign_in
from tests.portal import Portal, offer_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_negotiator_uploads_a_workbook_and_sees_the_bad_cell_named(
    browser: Browser, portal: Portal, engine: Engine, tmp_path: Path
) -> None:
    rid = await offer_in(engine, "INVITED", ["ID"])
    negotiator = await sign_in(browser, portal, portal.user(Role.NEGOTIATOR, "ID"))
    await negotiator.goto(f"/rounds/{rid}/offers/ID")

    # The template is one click away from the upload form.
    async with negotiator.expect_download() as waiting:
        await negotiator.get_by_role("link", name="Download the offer template (.xlsx)").click()
    download = await waiting.value
    assert download.suggested_filename == "offer-template.xlsx"
    template = load_workbook(io.BytesIO(Path(await download.path()).read_bytes()))
    assert "Tariffs" in template.sheetnames and "Instructions" in template.sheetnames

    document = sample_offer(rid, "ID", lines=20, seed=7)
    wb = load_workbook(io.BytesIO(write_workbook(document)))
    wb["Tariffs"]["D14"] = "three"
    bad = tmp_path / "ID-offer.xlsx"
    wb.save(bad)

    await negotiator.get_by_label("Offer document").set_input_files(bad)
    await negotiator.get_by_role("button", name="Submit").click()
    flash = negotiator.locator(".flash.error")
    await expect(flash).to_contain_text("Tariffs!D14: offered rate 'three' is not a number")
    await expect(flash.locator("li code")).to_have_text(["Tariffs!D14"])
    await expect(negotiator.locator("#offer-state")).to_have_text("INVITED")

    # Fixed, the same workbook goes through.
    wb["Tariffs"]["D14"] = document.tariff_commitments[12].offered_rate_pct
    wb.save(bad)
    await negotiator.get_by_label("Offer document").set_input_files(bad)
    await negotiator.get_by_role("button", name="Submit").click()
    await expect(negotiator.locator(".flash.ok")).to_contain_text("version 1 received")
    await expect(negotiator.locator("#offer-state")).to_have_text("UNDER_REVIEW")
