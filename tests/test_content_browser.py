"""Reading a full national schedule and what changed, in a real browser (Debian's Chromium, driven by Playwright)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, expect

from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.portal import Role
from tests.browser import sign_in
from tests.portal import Portal, offer_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_reviewer_reads_a_15000_line_offer_by_chapter_and_sees_what_changed(
    browser: Browser, portal: Portal, engine: Engine
) -> None:
    rid = await offer_in(engine, "INVITED", ["IN"])
    today = datetime.now(UTC).date()
    first = sample_offer(rid, "IN", lines=15_000, seed=6, received=today)
    lines = list(first.tariff_commitments)
    cut = next(i for i, line in enumerate(lines) if line.hs_code.startswith("87") and line.offered_rate_pct > 0)
    lines[cut] = lines[cut].model_copy(update={"offered_rate_pct": 0.0})
    stuck = next(i for i in range(12_000, 15_000) if lines[i].current_rate_pct > 0)
    lines[stuck] = lines[stuck].model_copy(update={"offered_rate_pct": lines[stuck].current_rate_pct})
    cut_code = lines[cut].hs_code
    gone = lines.pop(3 if cut != 3 else 4)
    second = first.model_copy(update={"tariff_commitments": lines})
    await engine.submit(first, by="negotiator")
    await engine.submit(second, amend=True, by="negotiator")
    cars = sum(line.hs_code.startswith("87") for line in second.tariff_commitments)

    reviewer = await sign_in(browser, portal, portal.user(Role.REVIEWER))
    started = time.perf_counter()
    await reviewer.goto(f"/rounds/{rid}/offers/IN")
    print(f"the offer page of 15,000 lines with its diff: {time.perf_counter() - started:.2f} s")

    # What changed comes first: one line cut, one line that now offers nothing, one line gone.
    diff = reviewer.locator("#diff")
    await expect(diff.locator("h2")).to_have_text("What changed from version 1 to version 2")
    await expect(reviewer.locator("#diff-counts")).to_contain_text("Tariff lines: 0 added, 1 removed, 2 changed")
    rows = reviewer.locator("#diff-lines tbody tr")
    await expect(rows.filter(has_text="removed")).to_contain_text(gone.hs_code)
    await expect(rows.filter(has_text=cut_code)).to_contain_text("offered_rate_pct")
    assert await reviewer.locator("section.diff ~ section.content").count() == 1  # above the offer itself

    # The lines: 15,000 of them, 100 a page; filtered to chapter 87 with the form.
    await expect(reviewer.locator("#lines-count")).to_have_text("14,999 of 14,999 lines; page 1 of 150")
    await expect(reviewer.locator("#lines-table tbody tr")).to_have_count(100)
    numbers = await reviewer.locator("#lines-table tbody tr td:nth-child(1)").all_inner_texts()
    assert numbers == [str(n) for n in range(1, 101)]  # people count lines from 1
    await reviewer.get_by_label("HS chapter").select_option("87")
    await reviewer.get_by_role("button", name="Filter").click()
    pages = -(-cars // 100)
    await expect(reviewer.locator("#lines-count")).to_have_text(f"{cars:,} of 14,999 lines; page 1 of {pages}")
    codes = await reviewer.locator("#lines-table tbody tr td:nth-child(2)").all_inner_texts()
    assert len(codes) == 100 and all(code.startswith("87") for code in codes)
    await reviewer.get_by_role("link", name="Next").click()
    await expect(reviewer.locator("#lines-count")).to_contain_text(f"page 2 of {pages}")
    assert "chapter=87" in reviewer.url
    codes = await reviewer.locator("#lines-table tbody tr td:nth-child(2)").all_inner_texts()
    assert codes and all(code.startswith("87") for code in codes)

    # The no-change warning links to the page of lines that holds it, with the line in view; people count from 1.
    index = stuck - 1  # one line before it was removed
    link = reviewer.get_by_role("link", name=f"tariff_commitments[{index}].offered_rate_pct (line {index + 1})")
    await link.click()
    assert reviewer.url.endswith(f"?page={index // 100 + 1}#line-{index + 1}")
    target = reviewer.locator(f"#line-{index + 1}")
    await expect(target).to_be_in_viewport()
    await expect(target).to_contain_text(second.tariff_commitments[index].hs_code)
    await expect(target.locator("td").first).to_have_text(str(index + 1))
    first_shown = reviewer.locator("#lines-table tbody tr").first.locator("td").first
    await expect(first_shown).to_have_text(str(index // 100 * 100 + 1))
    await reviewer.context.close()
