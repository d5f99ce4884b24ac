"""The portal in a real browser: Debian's Chromium driven by Playwright, through the pages people use."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pypdf
import pytest
from playwright.async_api import Browser, expect

from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.portal import Role
from tests.browser import sign_in
from tests.portal import Portal, offer_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_negotiator_reviewers_and_staff_take_an_offer_to_its_letter(
    browser: Browser, portal: Portal, engine: Engine, tmp_path: Path
) -> None:
    rid = await offer_in(engine, "INVITED", ["LK"])
    today = datetime.now(UTC).date()
    incomplete, complete = tmp_path / "LK-incomplete.json", tmp_path / "LK-offer.json"
    incomplete.write_text(sample_offer(rid, "LK", lines=8, seed=2, received=today, deficient=True).model_dump_json())
    complete.write_text(sample_offer(rid, "LK", lines=8, seed=2, received=today).model_dump_json())

    # The negotiator uploads an offer missing two categories and sees the findings where they belong.
    negotiator = await sign_in(browser, portal, portal.user(Role.NEGOTIATOR, "LK"))
    await negotiator.goto(f"/rounds/{rid}/offers/LK")
    await negotiator.get_by_label("Offer document").set_input_files(incomplete)
    await negotiator.get_by_role("button", name="Submit").click()
    await expect(negotiator.locator("#offer-state")).to_have_text("DEFICIENT")
    digital = negotiator.locator("#category-digital_trade")
    await expect(digital.locator(".badge")).to_have_text("missing")
    await expect(digital).to_contain_text("add at least one digital trade pledge")
    await expect(negotiator.locator("#category-tariff_industrial .badge")).to_have_text("met")

    # It amends with the complete document and sees it under review.
    await negotiator.get_by_label("Offer document").set_input_files(complete)
    await negotiator.get_by_role("button", name="Send the amended offer").click()
    await expect(negotiator.locator("#offer-state")).to_have_text("UNDER_REVIEW")
    await expect(negotiator.locator(".flash.ok")).to_contain_text("version 2 received")

    # Two reviewers find it in their queue and approve it.
    for _ in range(2):
        reviewer = await sign_in(browser, portal, portal.user(Role.REVIEWER))
        row = reviewer.get_by_role("row").filter(has_text=rid)
        for _ in range(50):  # the queue comes from visibility, a moment behind
            if await row.count():
                break
            await reviewer.wait_for_timeout(200)
            await reviewer.reload()
        await row.get_by_role("link", name="LK").click()
        await expect(reviewer.get_by_role("heading", name="Proposed landing zone")).to_be_visible()
        await reviewer.locator("#approve-form").get_by_role("button", name="Approve").click()
        await expect(reviewer.locator(".flash.ok")).to_contain_text("approved")
        await reviewer.context.close()

    # Staff see the letter ready on the round's dashboard and download it.
    staff = await sign_in(browser, portal, portal.user(Role.STAFF))
    await staff.goto(f"/rounds/{rid}")
    download_button = staff.get_by_role("row").filter(has_text="LK").get_by_role("link", name="Download")
    for _ in range(150):
        if await download_button.count():
            break
        await staff.wait_for_timeout(200)
        await staff.reload()
    async with staff.expect_download() as waiting:
        await download_button.click()
    download = await waiting.value
    content = Path(await download.path()).read_bytes()
    assert content.startswith(b"%PDF-")
    assert "Sri Lanka" in pypdf.PdfReader(io.BytesIO(content)).pages[0].extract_text()
    assert download.suggested_filename == f"landing-zone-{rid}-LK-v2.pdf"

    # The negotiator, back on the offer page, finds the letter there too.
    await negotiator.reload()
    await expect(negotiator.locator("#offer-state")).to_have_text("LETTER_ISSUED")
    await expect(negotiator.locator("#letter-link")).to_be_visible()

    # And staff find every step in the audit log.
    await staff.goto(f"/audit?round_id={rid}")
    audit = staff.locator("table.audit")
    await expect(audit).to_contain_text("download letter")
    await expect(audit.get_by_role("row").filter(has_text="approve")).to_have_count(2)


async def test_the_negotiator_cannot_open_another_partners_page(
    browser: Browser, portal: Portal, engine: Engine
) -> None:
    rid = await offer_in(engine, "UNDER_REVIEW", ["BD", "BR"])
    negotiator = await sign_in(browser, portal, portal.user(Role.NEGOTIATOR, "BD"))
    answer = await negotiator.goto(f"/rounds/{rid}/offers/BR")
    assert answer is not None and answer.status == 404
    await expect(negotiator.get_by_role("alert")).to_contain_text("there is no offer here that you can see")
    answer = await negotiator.goto(f"/rounds/{rid}")
    assert answer is not None and answer.status == 403
