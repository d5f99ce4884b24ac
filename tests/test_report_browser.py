"""The round at a glance in a real browser: Debian's Chromium driven by Playwright, as staff use it."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from pathlib import Path

import openpyxl  # type: ignore[import-untyped, unused-ignore]
import pytest
from playwright.async_api import Browser, ConsoleMessage, expect

from offerdesk.engine import Engine
from schemas.offer_state import OfferState
from schemas.portal import Role
from schemas.review import Approve
from tests.browser import sign_in
from tests.portal import Portal, offer_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_staff_open_the_round_report_and_see_one_mark_per_partner(
    browser: Browser, portal: Portal, engine: Engine, tmp_path: Path
) -> None:
    partners = ["JP", "PH", "KR"]
    rid = await offer_in(engine, "UNDER_REVIEW", partners, approvals=1)
    await engine.approve(rid, "JP", Approve(reviewer="Rev One", version=1, rate_pct=15, reason="the industrial cuts"))
    await engine.wait_for(rid, "JP", {OfferState.LETTER_ISSUED}, timeout=timedelta(minutes=2))
    for _ in range(100):  # the report reads visibility, a moment behind the workflows
        if {o.partner: o.state for o in await engine.list_offers(round_id=rid)}.get("JP") == "LETTER_ISSUED":
            break
        await asyncio.sleep(0.1)

    staff = await sign_in(browser, portal, portal.user(Role.STAFF))
    refused: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or message.type == "error":
            refused.append(message.text)

    staff.on("console", note)
    await staff.goto(f"/rounds/{rid}")
    await staff.get_by_role("link", name="The round at a glance").click()
    await expect(staff.get_by_role("heading", name=f"Round {rid} at a glance")).to_be_visible()

    chart = staff.locator("svg#rate-chart")
    await expect(chart).to_be_visible()
    await expect(chart.locator("circle.mark")).to_have_count(len(partners))
    for code in partners:
        await expect(chart.locator(f'circle.mark[data-partner="{code}"]')).to_have_count(1)
    await expect(chart.locator('circle.mark.agreed[data-partner="JP"] title')).to_contain_text("agreed 15%")
    await expect(chart.locator("circle.mark.proposed")).to_have_count(2)
    box = await chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200, box

    matrix = staff.locator("#report-matrix")
    await expect(matrix.locator("tbody tr")).to_have_count(len(partners))
    jp = matrix.locator('tr[data-partner="JP"]')
    await expect(jp).to_contain_text("LETTER_ISSUED")
    await expect(jp.locator(".badge.met")).to_have_count(7)
    await expect(jp).to_contain_text("15%")
    await expect(matrix.locator('tr[data-partner="PH"] .in-review')).to_contain_text("so far")
    await expect(matrix.locator("caption")).to_contain_text("first version received")

    await staff.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    async with staff.expect_download() as waiting:
        await staff.locator("#report-xlsx").click()
    download = await waiting.value
    assert download.suggested_filename == f"offerdesk-{rid}-report.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(Path(await download.path()).read_bytes()))["Report"]
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == partners

    assert refused == [], refused  # the page needs nothing the portal's CSP refuses


async def test_a_reviewer_is_refused_the_report(browser: Browser, portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "INVITED", ["BD"])
    reviewer = await sign_in(browser, portal, portal.user(Role.REVIEWER))
    answer = await reviewer.goto(f"/rounds/{rid}/report")
    assert answer is not None and answer.status == 403
    await expect(reviewer.get_by_role("alert")).to_contain_text("reviewer may not")
    await expect(reviewer.locator("svg#rate-chart")).to_have_count(0)
