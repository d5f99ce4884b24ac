"""The portal's defences around every request: security headers, who is calling (for refusals and the audit),
and the arithmetic of sign-in throttling (pure functions, tested directly; the state is in `Accounts`)."""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from offerdesk.portal.accounts import Accounts, Principal

log = logging.getLogger("offerdesk.portal")

# ---- sign-in throttling ------------------------------------------------------------------------

ACCOUNT_LIMIT = 5
"""Failed sign-ins for one account, within WINDOW, before it must wait."""
ADDRESS_LIMIT = 20
"""Failed sign-ins from one client address (any names), within WINDOW, before it must wait."""
WINDOW = timedelta(minutes=15)
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)


def backoff(failures: int, limit: int) -> timedelta:
    """How long to wait after the latest of `failures` recent failures: none below `limit`, then 30 s doubling with
    each further failure, at most 15 min."""
    if failures < limit:
        return timedelta(0)
    doublings: int = min(failures - limit, 20)
    wait: timedelta = FIRST_WAIT * (2**doublings)
    return min(wait, LONGEST_WAIT)


def locked_until(failures: Sequence[datetime], limit: int, now: datetime) -> datetime | None:
    """When sign-in may be tried again, given the failure times; None if it may be tried now."""
    recent = sorted(f for f in failures if timedelta(0) <= now - f < WINDOW)
    wait = backoff(len(recent), limit)
    if not wait:
        return None
    until = recent[-1] + wait
    return until if until > now else None


def seconds_left(until: datetime, now: datetime) -> int:
    """Whole seconds to wait, rounded up (for Retry-After)."""
    return max(1, math.ceil((until - now).total_seconds()))


def _span(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


@dataclass(frozen=True)
class Throttled:
    """Sign-in is refused until `until`, because of failures `whom` ("for ada", "from 192.0.2.7")."""

    whom: str
    until: datetime
    now: datetime

    @property
    def retry_after(self) -> int:
        return seconds_left(self.until, self.now)

    @property
    def message(self) -> str:
        return (
            f"too many failed sign-ins {self.whom}; try again in {_span(self.retry_after)} "
            f"(at {self.until:%H:%M:%S} UTC)"
        )


# ---- who is calling ----------------------------------------------------------------------------


@dataclass
class CallerSlot:
    """Filled in by the auth dependencies, read by the refusal path and the audit of refused reads."""

    principal: Principal | None = None


CALLER: ContextVar[CallerSlot | None] = ContextVar("offerdesk_caller", default=None)


def note_caller(who: Principal) -> None:
    """Remember who this request is from, for the handlers that run after the route (refusals, audit)."""
    slot = CALLER.get()
    if slot is None:
        slot = CallerSlot()
        CALLER.set(slot)
    slot.principal = who


def current_caller() -> Principal | None:
    slot = CALLER.get()
    return slot.principal if slot else None


# ---- headers -----------------------------------------------------------------------------------

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
# FastAPI's /docs and /redoc load Swagger UI and ReDoc from a CDN and start them with an inline script: allow just
# that there (those pages carry no user content), so they work wherever the CDN can be reached.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
READS = frozenset({"GET", "HEAD"})
_OFFER_PATH = re.compile(r"^(?:/api)?/rounds/(?P<round>[^/]+)(?:/offers/(?P<partner>[^/]+))?")
# Reads the desk audits itself (letter downloads), so a refusal is not written twice.
_AUDITED_BY_DESK = re.compile(r".*/(?:letter|letters\.zip)/?$")


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The security headers of a response to `path`: everything but static files is no-store."""
    csp = DOCS_CSP if path in DOCS_PATHS else CSP
    headers = [(b"content-security-policy", csp.encode()), *COMMON_HEADERS]
    if not path.startswith("/static/"):
        headers.append((b"cache-control", b"no-store"))
    return headers


class SecurityHeaders:
    """Pure ASGI: sets the security headers on every response (replacing any the app set), keeps a slot for the
    caller, and records a forbidden or not-found read by a known caller in the audit log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        ours = headers_for(path)
        names = {name for name, _ in ours}
        slot = CallerSlot()
        CALLER.set(slot)
        audit_refusal = scope["method"] in READS and not _AUDITED_BY_DESK.fullmatch(path)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                # Recorded before the answer goes out, so whoever reads the audit after the answer finds it.
                if audit_refusal and status in (403, 404) and slot.principal is not None:
                    await self._record(scope, slot.principal, status, path)
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + ours}
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _record(self, scope: Scope, who: Principal, status: int, path: str) -> None:
        accounts: Accounts = scope["app"].state.accounts
        found = _OFFER_PATH.match(path)
        round_id = found.group("round") if found else None
        partner = found.group("partner") if found else None
        outcome = "forbidden" if status == 403 else "not found"
        try:
            await asyncio.to_thread(
                accounts.record, who, "read", outcome, round_id, partner, f"{scope['method']} {path}"[:500]
            )
        except Exception:  # the answer has gone out; a failed audit write is logged, not raised into the server
            log.exception("could not record a refused read of %s", path)
