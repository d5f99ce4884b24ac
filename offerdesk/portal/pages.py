"""Server-rendered pages: plain HTML forms that work without JavaScript, one page per job.

Every form posts, then redirects back with a message (post, redirect, get), so reloading never repeats an action.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.templating import Jinja2Templates

from offerdesk.durations import format_duration, parse_deadline, parse_duration
from offerdesk.engine import Refused
from offerdesk.portal.access import ALLOWED, Action, require
from offerdesk.portal.accounts import AccountError, Principal
from offerdesk.portal.api import email_detail, pdf_response, read_upload
from offerdesk.portal.auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGNIN_CSRF_COOKIE,
    SignInRequired,
    accounts,
    client_address,
    desk,
    form_caller,
    page_caller,
    postbox,
    same,
)
from offerdesk.portal.desk import Desk
from offerdesk.portal.errors import refusal
from offerdesk.portal.postbox import Postbox
from offers.documents import UnusableInputError
from schemas.offer_state import FINAL_STATES, OfferState, OfferStatus
from schemas.portal import (
    USER_NAME_PATTERN,
    ApproveBody,
    CommentBody,
    DecideBody,
    ExtendBody,
    OpenRoundBody,
    RequestChangesBody,
    RetryLetterBody,
    Role,
    WithdrawBody,
)
from schemas.refusal import Refusal
from schemas.validation import CATEGORY_TITLES, Category, CategoryStatus

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "portal"

router = APIRouter(include_in_schema=False)
Person = Annotated[Principal, Depends(page_caller)]
Poster = Annotated[Principal, Depends(form_caller)]
TheDesk = Annotated[Desk, Depends(desk)]
ThePostbox = Annotated[Postbox, Depends(postbox)]
OFFER = "/rounds/{round_id}/offers/{partner}"


def _time_left(until: datetime | None) -> str:
    if until is None:
        return ""
    left = until - datetime.now(UTC)
    return "closed" if left.total_seconds() <= 0 else format_duration(timedelta(seconds=int(left.total_seconds())))


def _when(moment: datetime | str | None) -> str:
    """A moment as people read it, "2026-12-11 16:45 UTC". In a text (a history's detail, a refusal), each ISO 8601
    time with an offset, as the workflow writes them ("2026-12-11T16:45:07.123456+00:00"), is shown so too."""
    if isinstance(moment, str):

        def readable(found: re.Match[str]) -> str:
            try:
                return _when(datetime.fromisoformat(found.group()))
            except ValueError:  # not a real time, such as month 13: left as written
                return found.group()

        iso = r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})"
        return re.sub(iso, readable, moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
templates.env.filters["when"] = _when
templates.env.filters["left"] = _time_left
templates.env.filters["duration"] = format_duration
templates.env.globals["CATEGORY_TITLES"] = CATEGORY_TITLES
templates.env.globals["Action"] = Action


def render(request: Request, name: str, who: Principal | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    flash = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if who is not None and cookie:
        raw = accounts(request).pop_flash(cookie)
        flash = json.loads(raw) if raw else None
    can = ALLOWED[who.role] if who else frozenset()
    return templates.TemplateResponse(
        request,
        name,
        {"who": who, "can": can, "flash": flash, "csrf_field": CSRF_FIELD, **context},
        status_code=status_code,
    )


def _flash(request: Request, level: str, message: str, fields: list[dict[str, str]] | None = None) -> None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        accounts(request).flash(cookie, json.dumps({"level": level, "message": message, "fields": fields or []}))


async def _act(request: Request, back: str, work: Callable[[], Awaitable[str]]) -> Response:
    """Do a form's work and go back to the page with what happened; a refusal the person can fix is shown there."""
    try:
        _flash(request, "ok", await work())
    except (Refused, UnusableInputError, AccountError, ValidationError) as e:
        _, body = refusal(e)
        _flash(request, "error", body.message, [f.model_dump() for f in body.fields])
    return RedirectResponse(back, status_code=303)


def _optional(text: str | None) -> str | None:
    return text.strip() if text and text.strip() else None


# ---- signing in --------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to somewhere else."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request, next: str = "/") -> Response:
    token = request.cookies.get(SIGNIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "signin.html", None, next=_safe_next(next), signin_csrf=token, error=None)
    _set_cookie(request, response, SIGNIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    expected = request.cookies.get(SIGNIN_CSRF_COOKIE, "")
    if not same(csrf, expected):
        token = secrets.token_urlsafe(32)
        message = "the sign-in form was out of date; please sign in again"
        response = render(request, "signin.html", None, 403, next=_safe_next(next), signin_csrf=token, error=message)
        _set_cookie(request, response, SIGNIN_CSRF_COOKIE, token, max_age=3600)
        return response
    a = accounts(request)
    name, address = name.strip(), client_address(request)
    actor = name if re.match(USER_NAME_PATTERN, name) else "(unknown)"  # never a password typed in the wrong box
    where = f"from {address}"
    throttled = await asyncio.to_thread(a.signin_throttle, actor, address)
    if throttled is not None:  # before the password is even looked at: the right one waits too
        await asyncio.to_thread(a.record_as, actor, "-", "sign in", "refused: throttled", None, None, where)
        response = render(
            request, "signin.html", None, 429, next=_safe_next(next), signin_csrf=expected, error=throttled.message
        )
        response.headers["Retry-After"] = str(throttled.retry_after)
        return response
    user = await asyncio.to_thread(a.check_password, name, password)
    if user is None:
        await asyncio.to_thread(a.signin_failed, actor, address)
        await asyncio.to_thread(a.record_as, actor, "-", "sign in", "refused: bad password", None, None, where)
        message = "that name and password do not match a user; check both, or ask staff to reset your password"
        return render(request, "signin.html", None, 401, next=_safe_next(next), signin_csrf=expected, error=message)
    await asyncio.to_thread(a.signin_succeeded, user.name)
    session = await asyncio.to_thread(a.start_session, user)
    await asyncio.to_thread(a.record, session.principal, "sign in", "done", None, None, where)
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    _set_cookie(request, redirect, SESSION_COOKIE, session.cookie, max_age=12 * 3600)
    redirect.delete_cookie(SIGNIN_CSRF_COOKIE, path="/")
    return redirect


@router.post("/signout")
async def signout(request: Request, who: Poster) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    await asyncio.to_thread(accounts(request).end_session, cookie)
    await asyncio.to_thread(accounts(request).record, who, "sign out", "done", None, None, client_address(request))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=request.app.state.cookie_secure,
        httponly=True,
        samesite="lax",
    )


# ---- home and lists ----------------------------------------------------------------------------


@router.get("/")
async def home(who: Person) -> Response:
    target = {Role.NEGOTIATOR: "/offers", Role.REVIEWER: "/queue", Role.STAFF: "/rounds"}[who.role]
    return RedirectResponse(target, status_code=303)


@router.get("/offers", response_class=HTMLResponse)
async def offers_page(request: Request, who: Person, d: TheDesk) -> Response:
    return render(request, "offers.html", who, offers=await d.offers(who))


@router.get("/queue", response_class=HTMLResponse)
async def queue_page(request: Request, who: Person, d: TheDesk) -> Response:
    return render(request, "queue.html", who, offers=await d.queue(who))


@router.get("/rounds", response_class=HTMLResponse)
async def rounds_page(request: Request, who: Person, d: TheDesk) -> Response:
    return render(request, "rounds.html", who, rounds=await d.rounds(who))


@router.post("/rounds")
async def open_round(
    request: Request,
    who: Poster,
    d: TheDesk,
    round_id: Annotated[str, Form(max_length=100)],
    partners: Annotated[str, Form(max_length=2000)],
    deadline: Annotated[str, Form(max_length=100)],
    review_window: Annotated[str, Form(max_length=100)] = "3d",
    approvals_required: Annotated[str, Form(max_length=10)] = "2",
) -> Response:
    async def work() -> str:
        body = OpenRoundBody.model_validate(
            {
                "round_id": round_id.strip(),
                "partners": [p.strip().upper() for p in partners.replace(",", " ").split() if p.strip()],
                "deadline": parse_deadline(deadline.strip(), datetime.now(UTC)),
                "review_window": parse_duration(review_window.strip()),
                "approvals_required": approvals_required.strip(),
            }
        )
        status = await d.open_round(who, body)
        return f"round {status.round_id} is open for {', '.join(status.partners)} until {_when(status.deadline)}"

    try:
        return await _act(request, "/rounds", work)
    except ValueError as e:  # a deadline or duration written in a form nobody can read
        _flash(request, "error", str(e))
        return RedirectResponse("/rounds", status_code=303)


@router.get("/rounds/{round_id}", response_class=HTMLResponse)
async def dashboard_page(request: Request, round_id: str, who: Person, d: TheDesk) -> Response:
    return render(request, "dashboard.html", who, board=await d.dashboard(who, round_id))


@router.get("/rounds/{round_id}/letters.zip")
async def round_letters(round_id: str, who: Person, d: TheDesk) -> Response:
    content, _ = await d.round_letters(who, round_id)
    return Response(
        content,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="offerdesk-{round_id}-letters.zip"'},
    )


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, who: Person, d: TheDesk, round_id: str | None = None) -> Response:
    return render(request, "audit.html", who, records=await d.audit(who, round_id), round_id=round_id)


# ---- one offer ---------------------------------------------------------------------------------


def _by_category(status: OfferStatus) -> list[dict[str, Any]]:
    """Findings grouped where a negotiator looks for them: under each required category, then general ones."""
    report = status.report
    groups: list[dict[str, Any]] = []
    for category, title in CATEGORY_TITLES.items():
        groups.append(
            {
                "key": category.value,
                "title": title,
                "status": _status(report.categories.get(category)) if report else "",
                "findings": [f for f in report.findings if f.category == category] if report else [],
            }
        )
    general = [f for f in report.findings if f.category is None] if report else []
    if general:
        groups.append({"key": "general", "title": "The document as a whole", "status": "", "findings": general})
    return groups


def _status(status: CategoryStatus | None) -> str:
    return status.value if status else ""


@router.get(OFFER, response_class=HTMLResponse)
async def offer_page(request: Request, round_id: str, partner: str, who: Person, d: TheDesk) -> Response:
    from offerdesk.portal.content import offer_content  # the offer's content and what changed (issue 13)

    status = await d.offer(who, round_id, partner)
    open_ = status.state not in FINAL_STATES
    base = f"/rounds/{quote(round_id)}/offers/{quote(partner)}"
    return render(
        request,
        "offer.html",
        who,
        offer=status,
        groups=_by_category(status),
        base=base,
        can_upload=open_ and status.state is not OfferState.VALIDATING,
        can_review=status.state is OfferState.UNDER_REVIEW,
        can_decide=status.state in (OfferState.UNDER_REVIEW, OfferState.ESCALATED),
        is_open=open_,
        Category=Category,
        **await offer_content(request, d, who, status, base),
    )


@router.get(OFFER + "/letter")
async def letter(round_id: str, partner: str, who: Person, d: TheDesk) -> Response:
    found = await d.letter(who, round_id, partner)
    return pdf_response(found.content, found.ref.filename, found.ref.sha256)


def _back(round_id: str, partner: str) -> str:
    return f"/rounds/{quote(round_id)}/offers/{quote(partner)}"


@router.post(OFFER + "/upload")
async def upload(
    request: Request, round_id: str, partner: str, who: Poster, d: TheDesk, file: Annotated[UploadFile, File()]
) -> Response:
    async def work() -> str:
        receipt = await d.submit(who, round_id, partner, await read_upload(file))
        if receipt.duplicate:
            return f"this is the same document as version {receipt.version}; nothing changed"
        errors = len(receipt.report.errors) if receipt.report else 0
        what = f"; validation found {errors} error(s) to fix below" if errors else ""
        return f"version {receipt.version} received: the offer is {receipt.state.value}{what}"

    return await _act(request, _back(round_id, partner), work)


@router.post(OFFER + "/withdraw")
async def withdraw(
    request: Request,
    round_id: str,
    partner: str,
    who: Poster,
    d: TheDesk,
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    async def work() -> str:
        await d.withdraw(who, round_id, partner, WithdrawBody(reason=reason))
        return "the offer is withdrawn"

    return await _act(request, _back(round_id, partner), work)


@router.post(OFFER + "/approve")
async def approve(
    request: Request,
    round_id: str,
    partner: str,
    who: Poster,
    d: TheDesk,
    rate_pct: Annotated[str, Form(max_length=50)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    async def work() -> str:
        body = ApproveBody.model_validate({"rate_pct": _optional(rate_pct), "reason": _optional(reason)})
        answer = await d.approve(who, round_id, partner, body)
        return f"approved: {answer.approvals} of {answer.approvals_required}; the offer is {answer.state.value}"

    return await _act(request, _back(round_id, partner), work)


@router.post(OFFER + "/request-changes")
async def request_changes(
    request: Request,
    round_id: str,
    partner: str,
    who: Poster,
    d: TheDesk,
    note: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    async def work() -> str:
        await d.request_changes(who, round_id, partner, RequestChangesBody.model_validate({"note": note.strip()}))
        return "sent back to the negotiator with your note"

    return await _act(request, _back(round_id, partner), work)


@router.post(OFFER + "/comment")
async def comment(
    request: Request,
    round_id: str,
    partner: str,
    who: Poster,
    d: TheDesk,
    text: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    async def work() -> str:
        await d.comment(who, round_id, partner, CommentBody.model_validate({"text": text.strip()}))
        return "comment added (reviewers and staff only)"

    return await _act(request, _back(round_id, partner), work)


@router.post(OFFER + "/extend")
async def extend(
    request: Request,
    round_id: str,
    partner: str,
    who: Poster,
    d: TheDesk,
    extend_by: Annotated[str, Form(max_length=50)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    async def work() -> str:
        try:
            by = parse_duration(extend_by.strip())
        except ValueError as e:
            raise Refused(str(e), Refusal.BAD_DURATION) from None
        status = await d.extend(who, round_id, partner, ExtendBody(extend_by=by, reason=reason))
        return f"the review window now closes {_when(status.review_deadline)}"

    return await _act(request, _back(round_id, partner), work)


@router.post(OFFER + "/decide")
async def decide(
    request: Request,
    round_id: str,
    partner: str,
    who: Poster,
    d: TheDesk,
    decision: Annotated[str, Form(max_length=50)] = "",
    rate_pct: Annotated[str, Form(max_length=50)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    async def work() -> str:
        body = DecideBody.model_validate(
            {"decision": decision, "rate_pct": _optional(rate_pct), "reason": reason.strip()}
        )
        answer = await d.decide(who, round_id, partner, body)
        return f"decided: {decision.replace('_', ' ')}; the offer is {answer.state.value}"

    return await _act(request, _back(round_id, partner), work)


@router.post(OFFER + "/retry-letter")
async def retry_letter(
    request: Request,
    round_id: str,
    partner: str,
    who: Poster,
    d: TheDesk,
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    async def work() -> str:
        answer = await d.retry_letter(who, round_id, partner, RetryLetterBody(reason=reason.strip()))
        return f"the letter is being rendered again; the offer is {answer.state.value}"

    return await _act(request, _back(round_id, partner), work)


# ---- users and tokens (staff) ------------------------------------------------------------------


@router.get("/access", response_class=HTMLResponse)
async def access_page(request: Request, who: Person) -> Response:
    require(who, Action.MANAGE_ACCESS)
    a = accounts(request)
    users, tokens = await asyncio.gather(asyncio.to_thread(a.users), asyncio.to_thread(a.tokens))
    return render(request, "access.html", who, users=users, tokens=tokens, created=None)


@router.post("/access/tokens", response_class=HTMLResponse)
async def create_token(
    request: Request,
    who: Poster,
    user: Annotated[str, Form(max_length=64)],
    label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The token is shown on this one page and nowhere else: it is not kept, only its hash."""
    require(who, Action.MANAGE_ACCESS)
    a = accounts(request)
    try:
        created = await asyncio.to_thread(a.create_token, user.strip(), label.strip(), who.name)
    except AccountError as e:
        _flash(request, "error", e.message)
        return RedirectResponse("/access", status_code=303)
    await asyncio.to_thread(a.record, who, "create API token", "done", None, None, f"{created.token_id} for {user}")
    users, tokens = await asyncio.gather(asyncio.to_thread(a.users), asyncio.to_thread(a.tokens))
    response = render(request, "access.html", who, 201, users=users, tokens=tokens, created=created)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/access/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: str, who: Poster) -> Response:
    require(who, Action.MANAGE_ACCESS)
    a = accounts(request)

    async def work() -> str:
        await asyncio.to_thread(a.revoke_token, token_id)
        await asyncio.to_thread(a.record, who, "revoke API token", "done", None, None, token_id)
        return f"token {token_id} is revoked"

    return await _act(request, "/access", work)


@router.post("/access/users/{name}/email")
async def set_user_email(
    request: Request,
    name: str,
    who: Poster,
    email: Annotated[str, Form(max_length=320)] = "",
    clear: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Set or clear where a user's notifications are mailed; an empty address clears it too."""
    require(who, Action.MANAGE_ACCESS)
    a = accounts(request)

    async def work() -> str:
        user = await asyncio.to_thread(a.set_email, name, None if clear else _optional(email))
        await asyncio.to_thread(a.record, who, "set e-mail", "done", None, None, email_detail(user))
        if user.email:
            return f"notifications for {user.name} are mailed to {user.email}"
        return f"{user.name} has no e-mail address now: their notifications appear in the portal only"

    return await _act(request, "/access", work)


# ---- your notifications (everyone) -------------------------------------------------------------


@router.get("/notifications", response_class=HTMLResponse)
async def notifications_page(request: Request, who: Person, p: ThePostbox) -> Response:
    require(who, Action.NOTIFICATIONS)
    a = accounts(request)
    me, entries = await asyncio.gather(asyncio.to_thread(a.user, who.name), asyncio.to_thread(p.inbox, who.name))
    if me is None:  # removed while signed in: the session is gone with the user, so this is a race at most
        raise SignInRequired(request.url.path)
    return render(request, "notifications.html", who, me=me, entries=entries)


@router.post("/notifications/reminders")
async def set_reminders(
    request: Request,
    who: Poster,
    reminders: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """The signed-in person's own reminders, on or off; never anyone else's."""
    require(who, Action.NOTIFICATIONS)
    a = accounts(request)

    async def work() -> str:
        if reminders not in ("on", "off"):
            raise AccountError("choose whether to get reminders: on or off")
        await asyncio.to_thread(a.set_reminders, who.name, reminders == "on")
        await asyncio.to_thread(a.record, who, "set reminders", "done", None, None, reminders)
        if reminders == "on":
            return "reminders are on: you will hear before a deadline passes"
        return "reminders are off; notices about decisions on your own offers still come"

    return await _act(request, "/notifications", work)
