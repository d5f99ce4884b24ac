"""Every page of the portal, for every role, as axe-core reads it in a real browser (Debian's Chromium driven by
Playwright), and the keyboard's way past the header: a "Skip to main content" link, the first thing Tab reaches.

The pages carry real content: a round with an amended offer under review (its lines over three pages, what
changed, findings that link to their line, an approval, a comment and a longer review window), an offer with its
letter, one not yet submitted, notices in every inbox, users, tokens and the audit log.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from playwright.async_api import Browser, FilePayload, Page, expect

from activities.notify import Message
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.notice import Notice, NoticeKind
from schemas.offer import OfferDocument
from schemas.offer_state import OfferState
from schemas.portal import Role
from schemas.review import Approve, Comment, ExtendReview
from tests.browser import axe_violations, describe_violations, sign_in
from tests.portal import PASSWORD, Portal, User, offer_in

pytestmark = pytest.mark.asyncio(loop_scope="session")

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
READABLE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")


@dataclass(frozen=True)
class Scene:
    round_id: str
    amended: str
    """Under review in version 2: its lines, what changed, findings that link to a line, one approval of two."""
    issued: str
    """Its letter issued."""
    invited: str
    """Not yet submitted."""
    no_change: int
    """The index in `tariff_commitments` of the amended offer's line that offers no change (a warning)."""
    document: OfferDocument
    negotiator: User
    reviewer: User
    staff: User


def _with_line(doc: OfferDocument, index: int, **changes: float) -> OfferDocument:
    lines = list(doc.tariff_commitments)
    lines[index] = lines[index].model_copy(update=changes)
    return doc.model_copy(update={"tariff_commitments": lines})


async def _until(check: Callable[[], Awaitable[bool]], what: str, tries: int = 150) -> None:
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"still not so after {tries * 0.2:.0f} s: {what}")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scene(portal: Portal, engine: Engine) -> Scene:
    # The people first, so the worker files the round's notices to them.
    negotiator = portal.user(Role.NEGOTIATOR, "KR")
    reviewer, staff = portal.user(Role.REVIEWER), portal.user(Role.STAFF)
    portal.people.users.set_email(negotiator.name, f"{negotiator.name}@example.org")
    rid = await offer_in(engine, "INVITED", ["KR", "JP", "VN"])
    today = datetime.now(UTC).date()

    first = sample_offer(rid, "KR", lines=250, seed=5, received=today, deficient=True)
    no_change = next(i for i in range(150, 250) if first.tariff_commitments[i].current_rate_pct > 0)
    second = sample_offer(rid, "KR", lines=250, seed=5, received=today)
    second = _with_line(second, 0, offered_rate_pct=0.0)
    second = _with_line(second, no_change, offered_rate_pct=second.tariff_commitments[no_change].current_rate_pct)
    await engine.submit(first, by=negotiator.name)
    await engine.submit(second, amend=True, by=negotiator.name)
    await engine.wait_for(rid, "KR", {OfferState.UNDER_REVIEW}, timeout=timedelta(minutes=2))
    await engine.approve(rid, "KR", Approve(reviewer="Prep One", version=2, rate_pct=None, reason=None))
    await engine.comment(rid, "KR", Comment(reviewer="Prep Two", text="The car lines need a second look."))
    await engine.extend_review(rid, "KR", ExtendReview(by=staff.name, extend_by=timedelta(days=2), reason="more time"))

    await engine.submit(sample_offer(rid, "JP", lines=12, seed=3, received=today), by="negotiator")
    for name in ("Prep One", "Prep Two"):
        await engine.approve(rid, "JP", Approve(reviewer=name, version=1))
    await engine.wait_for(rid, "JP", {OfferState.LETTER_ISSUED}, timeout=timedelta(minutes=2))

    # Staff have no notice from this round (an escalation would take days): one as the worker files it.
    notice = Notice(
        key=f"{rid}/JP/escalated",
        kind=NoticeKind.ESCALATED,
        round_id=rid,
        partner="JP",
        partner_name="Japan",
        at=datetime.now(UTC),
    )
    message = Message(f"Escalated: Japan in {rid}", "The review window closed.\nDecide it.", "<p>x</p>", "http://x/")
    portal.people.notices.file(f"{notice.key}/{staff.name.lower()}", staff.name, notice, message)

    box = portal.people.notices

    async def notified() -> bool:
        return all(box.inbox(u.name) for u in (negotiator, reviewer, staff))

    async def listed() -> bool:
        states = {o.partner: o.state for o in await engine.list_offers(round_id=rid)}
        return states.get("KR") == "UNDER_REVIEW" and states.get("JP") == "LETTER_ISSUED"

    await _until(notified, "a notice in every inbox")
    await _until(listed, "the offers listed in their states")  # lists come from visibility, a moment behind
    return Scene(rid, "KR", "JP", "VN", no_change, second, negotiator, reviewer, staff)


def _pages(s: Scene, role: Role) -> list[tuple[str, str]]:
    """(what, path) of every page `role` can open, with content, and one it cannot (the error page)."""
    r = s.round_id
    offer = f"/rounds/{r}/offers/"
    pages = {
        Role.NEGOTIATOR: [
            ("offers", "/offers"),
            ("offer with lines, what changed and findings", offer + s.amended),
            ("offer, a later page of lines", f"{offer}{s.amended}?page=3#lines"),
            ("offer, version 1", f"{offer}{s.amended}?version=1"),
            ("notifications", "/notifications"),
            ("error: another partner's offer", offer + s.issued),
        ],
        Role.REVIEWER: [
            ("review queue", "/queue"),
            ("offers", "/offers"),
            ("offer with lines, what changed, findings and the review form", offer + s.amended),
            ("offer, lines filtered", f"{offer}{s.amended}?chapter=87&no_change=1#lines"),
            ("offer with its letter", offer + s.issued),
            ("notifications", "/notifications"),
            ("error: the round report", f"/rounds/{r}/report"),
        ],
        Role.STAFF: [
            ("rounds", "/rounds"),
            ("round dashboard", f"/rounds/{r}"),
            ("round report", f"/rounds/{r}/report"),
            ("offers", "/offers"),
            ("review queue", "/queue"),
            ("offer with lines, what changed, findings and staff forms", offer + s.amended),
            ("offer with its letter", offer + s.issued),
            ("offer not yet submitted", offer + s.invited),
            ("notifications", "/notifications"),
            ("users and tokens", "/access"),
            ("audit log", "/audit"),
            ("audit log of the round", f"/audit?round_id={r}"),
            ("error: an offer that is not there", f"{offer}ZZ"),
        ],
    }
    return pages[role]


async def _first_tab_is_the_skip_link(page: Page) -> str | None:
    """None when Tab, from the top of the page, first reaches a visible "Skip to main content" link to <main>."""
    await page.keyboard.press("Tab")
    focused = page.locator(":focus")
    if await focused.count() != 1:
        return "Tab reached nothing"
    text = (await focused.inner_text()).strip()
    if text != "Skip to main content":
        return f"Tab first reached {await focused.evaluate('e => e.outerHTML')!r}, not the skip link"
    target = await focused.get_attribute("href")
    if target is None or not target.startswith("#") or await page.locator(f"main{target}").count() != 1:
        return f"the skip link goes to {target!r}, not to <main>"
    box = await focused.bounding_box()
    if box is None or box["width"] < 10 or box["height"] < 10 or box["y"] < 0 or box["x"] < 0:
        return f"the skip link is not visible when focused: {box}"
    return None


async def _check(page: Page, what: str, problems: list[str], tab: bool = True) -> None:
    """axe-core on the page as it is; the times on it as people read them; then the first Tab (unless the address
    has a #fragment: the browser starts from there, past the header)."""
    violations = await axe_violations(page)
    if violations:
        problems.append(describe_violations(what, violations))
    shown = await page.locator("main").inner_text()
    if iso := ISO_TIME.findall(shown):
        problems.append(f"{what}: times shown as ISO strings, not as '2026-12-11 16:45 UTC': {iso}")
    if tab and (skip := await _first_tab_is_the_skip_link(page)) is not None:
        problems.append(f"{what}: {skip}")


async def _visit(page: Page, what: str, path: str, problems: list[str]) -> None:
    answer = await page.goto(path)
    assert answer is not None, path
    assert (answer.status >= 400) == what.startswith("error"), f"{what}: {path} answered {answer.status}"
    await _check(page, f"{what} ({path})", problems, tab="#" not in path)


async def _act(page: Page, s: Scene, role: Role) -> str:
    """Something the role does through a form, so the page comes back with a message (a flash); what it was."""
    await page.goto(f"/rounds/{s.round_id}/offers/{s.amended}")
    if role is Role.NEGOTIATOR:
        await page.get_by_label("Offer document").set_input_files(
            FilePayload(name="offer.json", mimeType="application/json", buffer=b'{"schema_version": 1}')
        )
        await page.get_by_role("button", name="Send the amended offer").click()
        await expect(page.locator(".flash.error")).to_be_visible()
        return "offer, an unusable upload refused"
    if role is Role.REVIEWER:
        await page.get_by_label("Internal comment").fill("Chapter 87 looks right now.")
        await page.get_by_role("button", name="Comment").click()
        await expect(page.locator(".flash.ok")).to_be_visible()
        return "offer, a comment saved"
    await page.get_by_label("Extend the review window by").fill("1d")
    await page.locator(".decide.staff").get_by_label("Reason", exact=True).first.fill("a holiday")
    await page.get_by_role("button", name="Extend").click()
    await expect(page.locator(".flash.ok")).to_contain_text("the review window now closes")
    return "offer, the review window extended"


@pytest.mark.parametrize("role", [Role.NEGOTIATOR, Role.REVIEWER, Role.STAFF])
async def test_every_page_passes_axe_for_each_role(browser: Browser, portal: Portal, scene: Scene, role: Role) -> None:
    user = {Role.NEGOTIATOR: scene.negotiator, Role.REVIEWER: scene.reviewer, Role.STAFF: scene.staff}[role]
    page = await sign_in(browser, portal, user)
    problems: list[str] = []
    try:
        for what, path in _pages(scene, role):
            await _visit(page, what, path, problems)
        await _check(page, await _act(page, scene, role), problems, tab=False)
    finally:
        await page.context.close()
    assert not problems, f"{role.value}: {len(problems)} problem(s)\n" + "\n\n".join(problems)


async def test_the_sign_in_page_passes_axe(browser: Browser, portal: Portal) -> None:
    context = await browser.new_context(base_url=portal.url)
    page = await context.new_page()
    problems: list[str] = []
    try:
        await page.goto("/signin")  # no field takes the focus first: Tab reaches the skip link here too
        await _check(page, "sign-in (/signin)", problems)
        # A wrong password: the page again, with the error.
        await page.goto("/signin")
        await page.get_by_label("Name").fill(f"nobody-{uuid.uuid4().hex[:6]}")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_contain_text("do not match")
        await _check(page, "sign-in, refused", problems, tab=False)
    finally:
        await context.close()
    assert not problems, "\n\n".join(problems)


async def test_the_skip_link_takes_the_keyboard_past_the_header(browser: Browser, portal: Portal, scene: Scene) -> None:
    page = await sign_in(browser, portal, scene.staff)
    try:
        await page.goto(f"/rounds/{scene.round_id}")
        skip = page.get_by_role("link", name="Skip to main content")
        hidden = await skip.bounding_box()
        assert hidden is not None and hidden["width"] <= 1 and hidden["height"] <= 1  # out of sight until focused
        await page.keyboard.press("Tab")
        await expect(skip).to_be_focused()
        await expect(skip).to_be_in_viewport()
        await page.keyboard.press("Enter")
        await expect(page.locator("main")).to_be_focused()
        assert page.url.endswith("#main")
        await page.keyboard.press("Tab")  # on from the main content: the first link there, not the header's
        await expect(page.get_by_role("link", name="The round at a glance")).to_be_focused()
    finally:
        await page.context.close()


async def test_history_and_audit_times_read_as_people_write_them(
    browser: Browser, portal: Portal, scene: Scene
) -> None:
    page = await sign_in(browser, portal, scene.staff)
    try:
        await page.goto(f"/rounds/{scene.round_id}/offers/{scene.amended}")
        history = page.locator("section.history tbody tr")
        for when in await history.locator("td:nth-child(1)").all_inner_texts():
            assert READABLE_TIME.fullmatch(when), when
        invited = history.filter(has_text="invited").locator("td:nth-child(4)")
        await expect(invited).to_have_text(re.compile(r"^submissions close at \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$"))
        extended = history.filter(has_text="extended the review window").first.locator("td:nth-child(4)")
        await expect(extended).to_have_text(re.compile(r"^to \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\. "))
        await page.goto(f"/audit?round_id={scene.round_id}")
        for when in await page.locator("table.audit tbody td:nth-child(1)").all_inner_texts():
            assert READABLE_TIME.fullmatch(when), when
    finally:
        await page.context.close()
