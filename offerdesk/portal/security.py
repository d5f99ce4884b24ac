"""The portal's defences around every request: security headers, and who is calling (for refusals)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offerdesk.people.principal import Principal

# ---- who is calling ----------------------------------------------------------------------------


@dataclass
class CallerSlot:
    """Filled in by the auth dependencies, read by the refusal path (a negotiator's one 404 sentence)."""

    principal: Principal | None = None


CALLER: ContextVar[CallerSlot | None] = ContextVar("offerdesk_caller", default=None)


def note_caller(who: Principal) -> None:
    """Remember who this request is from, for the handlers that run after the route (refusals)."""
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


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The security headers of a response to `path`: everything but static files is no-store."""
    csp = DOCS_CSP if path in DOCS_PATHS else CSP
    headers = [(b"content-security-policy", csp.encode()), *COMMON_HEADERS]
    if not path.startswith("/static/"):
        headers.append((b"cache-control", b"no-store"))
    return headers


class SecurityHeaders:
    """Pure ASGI: sets the security headers on every response (replacing any the app set), and keeps a slot for
    the caller (the desk records refusals itself, in the audit log)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        ours = headers_for(path)
        names = {name for name, _ in ours}
        CALLER.set(CallerSlot())

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + ours}
            await send(message)

        await self.app(scope, receive, with_headers)
