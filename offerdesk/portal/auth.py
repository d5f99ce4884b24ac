"""Who is calling: an API token (programs) or a session cookie (people), and CSRF checks for the latter.

Both are looked up through the desk, which records a refused token in the audit log.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from offerdesk.people.principal import Principal
from offerdesk.portal.access import Forbidden
from offerdesk.portal.desk import Desk
from offerdesk.portal.errors import Unauthorized
from offerdesk.portal.security import note_caller

SESSION_COOKIE = "offerdesk_session"
SIGNIN_CSRF_COOKIE = "offerdesk_signin_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(auto_error=False, description="An API token created by staff: 'Authorization: Bearer od_…'")


class SignInRequired(Exception):
    """A page was asked for without a session: send the person to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def desk(request: Request) -> Desk:
    found: Desk = request.app.state.desk
    return found


def same(a: str, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode(), b.encode())


def client_address(request: Request) -> str:
    return request.client.host if request.client else "(unknown address)"


async def session_of(request: Request) -> Principal | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return await desk(request).by_session(cookie) if cookie else None


async def token_of(request: Request, presented: str) -> Principal | None:
    """Who the API token acts as; a refused one is recorded with the request it came with."""
    return await desk(request).by_token(
        presented, f"{request.method} {request.url.path} from {client_address(request)}"
    )


async def api_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Principal:
    """The caller of an API route: a token if one is sent, else a browser session with its CSRF header."""
    if request.headers.get("authorization") is not None:
        if credentials is None:
            raise Unauthorized("send the API token as 'Authorization: Bearer <token>'")
        found = await token_of(request, credentials.credentials)
        if found is None:
            raise Unauthorized("this API token is not known or was revoked; ask staff for a new one")
        note_caller(found)
        return found
    session = await session_of(request)
    if session is None:
        raise Unauthorized("sign in at /signin, or send an API token as 'Authorization: Bearer <token>'")
    note_caller(session)
    if request.method not in SAFE_METHODS and not same(request.headers.get(CSRF_HEADER, ""), session.csrf):
        raise Forbidden(f"a browser session must send its CSRF token in the {CSRF_HEADER} header")
    return session


async def page_caller(request: Request) -> Principal:
    """The signed-in person looking at a page; anyone else is sent to sign in."""
    session = await session_of(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    note_caller(session)
    return session


async def form_caller(request: Request) -> Principal:
    """The signed-in person posting a form, which must carry the session's CSRF token."""
    session = await page_caller(request)
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not same(sent, session.csrf):
        raise Forbidden("this form is out of date or did not come from Offerdesk; reload the page and try again")
    return session
