"""A negotiator works from a spreadsheet in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from openpyxl import load_workbook
from playwright.async_api import Browser, Page, async_playwright, expect

from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from offerdesk.spreadsheets import write_workbook
from schemas.portal import Role
from tests.portal import PASSWORD, Portal, User, offer_in

pytestmark = pytest.mark.asyncio(loop_scope="session")
CHROMIUM = Path("/usr/bin/chromium")
# As root on a closed network: no sandbox, and none of Chromium's own calls home.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed; 'make test' installs it (apt-get install chromium)")
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield launched
        await launched.close()


async def sign_in(browser: Browser, portal: Portal, user: User) -> Page:
    context = await browser.new_context(base_url=portal.url, accept_downloads=True)
    page = await context.new_page()
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Name").fill(user.name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("header .me")).to_contain_text(user.name)
    return page


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
