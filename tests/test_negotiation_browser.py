"""Issue 25 in a real browser: a negotiator counters two letters and accepts the third, reviewers see each
counter-offer against the version its letter answered, every letter stays downloadable and unchanged, the notices
arrive once each, and staff reopen a letter that went unanswered."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.notice import NoticeKind
from schemas.offer_state import OfferState
from schemas.portal import Role
from schemas.review import Approve
from tests.browser import assert_accessible, sign_in
from tests.conftest import round_spec
from tests.portal import Portal, offer_in
from tests.smtpserver import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _reload_until(page: Page, ready: str, tries: int = 150) -> None:
    """Reload until the selector `ready` is on the page (the offer moves on its worker, a moment later)."""
    for _ in range(tries):
        if await page.locator(ready).count():
            return
        await page.wait_for_timeout(200)
        await page.reload()
    raise AssertionError(f"{ready} never appeared on {page.url}")


async def _download(page: Page, link: str) -> bytes:
    async with page.expect_download() as waiting:
        await page.locator(link).click()
    return Path(await (await waiting.value).path()).read_bytes()


async def _upload(page: Page, file: Path, button: str, state: str) -> None:
    await page.get_by_label("Offer document").set_input_files(file)
    await page.get_by_role("button", name=button).click()
    await expect(page.locator("#offer-state")).to_have_text(state)


async def test_a_negotiator_counters_twice_and_accepts_the_third_letter_in_the_browser(
    browser: Browser, portal: Portal, engine: Engine, tmp_path: Path
) -> None:
    rid = await offer_in(engine, "INVITED", ["TN"])
    today = datetime.now(UTC).date()
    files = {}
    for name, doc in {
        "v1": sample_offer(rid, "TN", lines=8, seed=1, received=today),
        "v2": sample_offer(rid, "TN", lines=8, seed=2, received=today, deficient=True),
        "v3": sample_offer(rid, "TN", lines=8, seed=3, received=today),
        "v4": sample_offer(rid, "TN", lines=8, seed=4, received=today),
    }.items():
        files[name] = tmp_path / f"TN-{name}.json"
        files[name].write_text(doc.model_dump_json())
    users = {
        "negotiator": portal.user(Role.NEGOTIATOR, "TN"),
        "ada": portal.user(Role.REVIEWER),
        "grace": portal.user(Role.REVIEWER),
        "staff": portal.user(Role.STAFF),
    }
    path = f"/rounds/{rid}/offers/TN"
    negotiator = await sign_in(browser, portal, users["negotiator"])
    reviewers = [await sign_in(browser, portal, users[name]) for name in ("ada", "grace")]

    async def approve_both(version: int) -> None:
        for reviewer in reviewers:
            await reviewer.goto(path)
            await _reload_until(reviewer, "#approve-form")
            await expect(reviewer.get_by_role("heading", name=f"Your review of version {version}")).to_be_visible()
            await reviewer.locator("#approve-form").get_by_role("button", name="Approve").click()
            await expect(reviewer.locator(".flash.ok")).to_contain_text(f"approved version {version}")

    async def letter_awaits(number: int) -> None:
        await _reload_until(negotiator, f"#letter-list tbody tr:nth-child({number})")
        await expect(negotiator.locator("#offer-state")).to_have_text("LETTER_ISSUED")
        await expect(negotiator.locator("#awaiting-answer")).to_contain_text(f"Letter {number} awaits")
        await expect(negotiator.locator("#respond-by")).to_contain_text("left")

    # Letter 1 answers version 1; the negotiator keeps a copy.
    await negotiator.goto(path)
    await _upload(negotiator, files["v1"], "Submit", "UNDER_REVIEW")
    await approve_both(1)
    await letter_awaits(1)
    first = await _download(negotiator, f'#letter-list a[href="{path}/letters/1"]')
    assert first.startswith(b"%PDF-")
    await assert_accessible(negotiator, "the negotiator's offer page, a letter awaiting its answer")

    # The first counter-offer: sent as an amendment, deficient, then amended clean.
    await expect(negotiator.get_by_role("heading", name="Send a counter-offer")).to_be_visible()
    await _upload(negotiator, files["v2"], "Send the counter-offer", "DEFICIENT")
    await _upload(negotiator, files["v3"], "Send the amended offer", "UNDER_REVIEW")

    # Reviewers see it against the version letter 1 answered, beside that letter's terms.
    ada = reviewers[0]
    await ada.goto(path)
    await expect(ada.locator("#diff h2")).to_have_text("What changed from version 1 to version 3")
    countered = ada.locator("#countered")
    await expect(countered).to_contain_text("A counter-offer to letter 1")
    await expect(countered.get_by_role("columnheader", name="Letter 1 (version 1)")).to_be_visible()
    await expect(countered.get_by_role("columnheader", name="The new proposal (version 3)")).to_be_visible()
    await assert_accessible(ada, "a reviewer's page of a counter-offer")
    await approve_both(3)
    await letter_awaits(2)

    # The second counter-offer, and letter 3.
    await _upload(negotiator, files["v4"], "Send the counter-offer", "UNDER_REVIEW")
    await ada.goto(path)
    await expect(ada.locator("#diff h2")).to_have_text("What changed from version 3 to version 4")
    await approve_both(4)
    await letter_awaits(3)

    # Accepting takes a confirmation step; reviewers have no such step.
    await negotiator.locator("#accept-link").click()
    await expect(negotiator.get_by_role("heading", name="Accept the letter")).to_be_visible()
    await assert_accessible(negotiator, "the confirmation before accepting a letter")
    await expect(negotiator.locator("#offer-state")).to_have_count(0)  # nothing accepted yet
    assert (await engine.offer_card(rid, "TN"))[0].state is OfferState.LETTER_ISSUED
    await negotiator.get_by_role("button", name="Yes, accept letter 3").click()
    await expect(negotiator.locator(".flash.ok")).to_contain_text("you accepted letter 3")
    await expect(negotiator.locator("#offer-state")).to_have_text("ACCEPTED")
    await expect(negotiator.locator("#deal")).to_contain_text("Letter 3 (answering version 4) was accepted")
    await expect(negotiator.get_by_role("heading", name="Send a counter-offer")).to_have_count(0)
    answer = await ada.goto(path + "/accept")
    assert answer is not None and answer.status == 403

    # Every letter is downloadable, the first as it was.
    assert await _download(negotiator, f'#letter-list a[href="{path}/letters/1"]') == first
    kept = {n: await _download(negotiator, f'#letter-list a[href="{path}/letters/{n}"]') for n in (2, 3)}
    assert len({first, *kept.values()}) == 3
    assert await _download(negotiator, "#letter-link") == kept[3]

    # Staff see the deal on the dashboard and as the deal on the round's chart.
    staff = await sign_in(browser, portal, users["staff"])
    await staff.goto(f"/rounds/{rid}")
    await _reload_until(staff, "td.deal strong")
    row = staff.get_by_role("row").filter(has_text="TN")
    await expect(row.locator(".state")).to_have_text("ACCEPTED")
    await expect(row.locator(".letters")).to_have_text("letter 3")
    await staff.goto(f"/rounds/{rid}/report")
    await expect(staff.locator('circle.mark.deal[data-partner="TN"]')).to_have_count(1)
    await expect(staff.locator("#answers")).to_contain_text("accepted 1, countered 1")

    # The notices, once each: a letter awaiting an answer three times, a counter-offer twice, the acceptance once.
    notices = portal.people.notices

    def kinds(user: str) -> Counter[NoticeKind]:
        return Counter(e.kind for e in notices.inbox(user) if e.round_id == rid)

    await eventually(lambda: kinds(users["staff"].name)[NoticeKind.ACCEPTED] == 1, 30, "staff told of it")
    await asyncio.sleep(1.0)
    assert kinds(users["negotiator"].name) == Counter({NoticeKind.AWAITS_ANSWER: 3, NoticeKind.DEFICIENT: 1})
    assert kinds(users["grace"].name) == Counter({NoticeKind.IN_REVIEW: 1, NoticeKind.COUNTERED: 2})
    assert kinds(users["staff"].name)[NoticeKind.ACCEPTED] == 1
    await negotiator.goto("/notifications")
    await expect(negotiator.locator("tr.notice.awaits_answer").filter(has_text=rid)).to_have_count(3)
    for page in (negotiator, *reviewers, staff):
        await page.context.close()


async def test_staff_reopen_an_unanswered_letter_in_the_browser(
    browser: Browser, portal: Portal, engine: Engine
) -> None:
    spec = round_spec(["KH"], approvals=1, respond_within=timedelta(seconds=3))
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, "KH", lines=6), by="negotiator")
    await engine.approve(rid, "KH", Approve(reviewer="Prep One", version=1))
    await engine.wait_for(rid, "KH", {OfferState.UNANSWERED}, timedelta(seconds=60))

    negotiator = await sign_in(browser, portal, portal.user(Role.NEGOTIATOR, "KH"))
    await negotiator.goto(f"/rounds/{rid}/offers/KH")
    await expect(negotiator.locator("#offer-state")).to_have_text("UNANSWERED")
    await expect(negotiator.locator("#accept-link")).to_have_count(0)
    await expect(negotiator.get_by_label("Offer document")).to_have_count(0)  # no counter-offer now

    staff = await sign_in(browser, portal, portal.user(Role.STAFF))
    await staff.goto(f"/rounds/{rid}/offers/KH")
    unanswered = staff.locator("#unanswered")
    await expect(unanswered).to_contain_text("Letter 1 went unanswered")
    await assert_accessible(staff, "staff's page of an unanswered letter")
    await unanswered.get_by_label("New time to answer").fill("2d")
    await unanswered.get_by_label("Reason", exact=True).fill("The ministry asked for two more days.")
    await unanswered.get_by_role("button", name="Reopen").click()
    await expect(staff.locator(".flash.ok")).to_contain_text("reopened: letter 1 awaits an answer until")
    await expect(staff.locator("#offer-state")).to_have_text("LETTER_ISSUED")
    await expect(staff.locator("#respond-by")).to_contain_text("1 d 23 h left")

    await negotiator.reload()
    await expect(negotiator.locator("#awaiting-answer")).to_contain_text("Letter 1 awaits the partner's answer")
    await expect(negotiator.get_by_role("heading", name="Send a counter-offer")).to_be_visible()
    for page in (negotiator, staff):
        await page.context.close()
