"""Signing in and out, staff's users and tokens page, and each person's notifications and reminders."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from offerdesk.people.sessions import SESSION_LIFETIME
from offerdesk.people.throttle import Throttled
from offerdesk.people.users import AccountError
from offerdesk.portal.access import ALLOWED, Action
from offerdesk.portal.auth import SESSION_COOKIE, SIGNIN_CSRF_COOKIE, SignInRequired, client_address, same
from offerdesk.portal.forms import LINE, LONG, limit
from offerdesk.portal.params import Person, Poster, TheDesk
from offerdesk.portal.templating import act, back_to, flash, render, router
from schemas.portal import EmailBody, NewUser, TokenRequest

Line = Annotated[str, Form(max_length=LINE)]
SIGNIN_CSRF_AGE = 3600


# ---- signing in --------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to somewhere else."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


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


async def _signin_form(
    request: Request, next: str, token: str, status: int = 200, error: str | None = None, new_token: bool = False
) -> Response:
    response = await render(request, "signin.html", None, status, next=_safe_next(next), signin_csrf=token, error=error)
    if new_token:
        _set_cookie(request, response, SIGNIN_CSRF_COOKIE, token, max_age=SIGNIN_CSRF_AGE)
    return response


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request, next: str = "/") -> Response:
    token = request.cookies.get(SIGNIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    return await _signin_form(request, next, token, new_token=True)


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    d: TheDesk,
    name: Line,
    password: Annotated[str, Form(max_length=limit(NewUser, "password"))],
    csrf: Line = "",
    next: Annotated[str, Form(max_length=LONG)] = "/",
) -> Response:
    expected = request.cookies.get(SIGNIN_CSRF_COOKIE, "")
    if not same(csrf, expected):
        message = "the sign-in form was out of date; please sign in again"
        return await _signin_form(request, next, secrets.token_urlsafe(32), 403, message, new_token=True)
    signed_in = await d.sign_in(name, password, client_address(request))
    if isinstance(signed_in, Throttled):  # before the password is even looked at: the right one waits too
        response = await _signin_form(request, next, expected, 429, signed_in.message)
        response.headers["Retry-After"] = str(signed_in.retry_after)
        return response
    if signed_in is None:
        message = "that name and password do not match a user; check both, or ask staff to reset your password"
        return await _signin_form(request, next, expected, 401, message)
    redirect = back_to(_safe_next(next))
    _set_cookie(request, redirect, SESSION_COOKIE, signed_in.cookie, max_age=int(SESSION_LIFETIME.total_seconds()))
    redirect.delete_cookie(SIGNIN_CSRF_COOKIE, path="/")
    return redirect


@router.post("/signout")
async def signout(request: Request, who: Poster, d: TheDesk) -> Response:
    await d.sign_out(who, request.cookies.get(SESSION_COOKIE, ""), client_address(request))
    response = back_to("/signin")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---- users and tokens (staff) ------------------------------------------------------------------


async def _access(request: Request, who: Person, d: TheDesk, status: int = 200, **created: object) -> Response:
    users = await d.users(who)
    tokens = await d.tokens(who)
    return await render(request, "access.html", who, status, users=users, tokens=tokens, **created)


@router.get("/access", response_class=HTMLResponse)
async def access_page(request: Request, who: Person, d: TheDesk) -> Response:
    return await _access(request, who, d, created=None)


@router.post("/access/tokens", response_class=HTMLResponse)
async def create_token(
    request: Request,
    who: Poster,
    d: TheDesk,
    user: Line,
    label: Annotated[str, Form(max_length=limit(TokenRequest, "label"))] = "",
) -> Response:
    """The token is shown on this one page and nowhere else: it is not kept, only its hash."""
    try:
        created = await d.create_token(who, user.strip(), label.strip())
    except AccountError as e:
        await flash(request, "error", e.message)
        return back_to("/access")
    response = await _access(request, who, d, 201, created=created)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/access/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: str, who: Poster, d: TheDesk) -> Response:
    async def work() -> str:
        await d.revoke_token(who, token_id)
        return f"token {token_id} is revoked"

    return await act(request, "/access", work)


@router.post("/access/users/{name}/email")
async def set_user_email(
    request: Request,
    name: str,
    who: Poster,
    d: TheDesk,
    email: Annotated[str, Form(max_length=limit(EmailBody, "email"))] = "",
    clear: Line = "",
) -> Response:
    """Set or clear where a user's notifications are mailed; an empty address clears it too."""

    async def work() -> str:
        user = await d.set_email(who, name, None if clear or not email.strip() else email.strip())
        if user.email:
            return f"notifications for {user.name} are mailed to {user.email}"
        return f"{user.name} has no e-mail address now: their notifications appear in the portal only"

    return await act(request, "/access", work)


# ---- your notifications (everyone) -------------------------------------------------------------


@router.get("/notifications", response_class=HTMLResponse)
async def notifications_page(request: Request, who: Person, d: TheDesk) -> Response:
    me = await d.me(who)
    if me is None:  # removed while signed in: the session is gone with the user, so this is a race at most
        raise SignInRequired(request.url.path)
    entries = await d.notifications(who)
    staff = Action.MANAGE_ACCESS in ALLOWED[who.role]  # they see everyone's notices that mail did not deliver
    unmailed = await d.unmailed(who) if staff else None
    return await render(request, "notifications.html", who, me=me, entries=entries, unmailed=unmailed)


@router.post("/notifications/reminders")
async def set_reminders(request: Request, who: Poster, d: TheDesk, reminders: Line = "") -> Response:
    """The signed-in person's own reminders, on or off; never anyone else's."""

    async def work() -> str:
        if reminders not in ("on", "off"):
            raise AccountError("choose whether to get reminders: on or off")
        await d.set_reminders(who, reminders == "on")
        if reminders == "on":
            return "reminders are on: you will hear before a deadline passes"
        return "reminders are off; notices about decisions on your own offers still come"

    return await act(request, "/notifications", work)
