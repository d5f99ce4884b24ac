"""The portal's defences around every request: security headers, and who is calling (for refusals)."""

from __future__ import annotations

import json
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

STYLE_HASHES = (
    # The two <style> elements ReDoc writes on /redoc (the bundle fastapi-offline 1.7.7 ships): the empty one that
    # styled-components then fills through the CSSOM (the digest of ""), and perfect-scrollbar's stylesheet. Only
    # these exact texts are allowed: no other inline style, no style attribute.
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
)
CSP = (
    f"default-src 'self'; script-src 'self'; style-src 'self' {' '.join(STYLE_HASHES)}; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
"""One policy for every answer, /docs and /redoc included: their scripts, stylesheets and initializers are the
portal's own static files (offerdesk/portal/apidocs.py). No inline script at all, nothing from elsewhere."""
COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
NO_STORE = (b"cache-control", b"no-store")


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The security headers of a response to `path`: everything but static files is no-store."""
    return [*COMMON_HEADERS] if path.startswith("/static/") else [*COMMON_HEADERS, NO_STORE]


FAILED = json.dumps(
    {"error": "InternalError", "message": "something went wrong on our side; it has been logged", "fields": []}
).encode()
"""The last resort: the answer when even the app's own 500 handler failed."""


class HttpMiddleware:
    """Pure ASGI around an app: each HTTP request goes through `handle`; lifespan events pass straight by."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class SecurityHeaders(HttpMiddleware):
    """Pure ASGI: sets the security headers on every response (replacing any the app set), and keeps a slot for
    the caller (the desk records refusals itself, in the audit log).

    It must wrap the whole app, Starlette's ServerErrorMiddleware included (see `PortalApp`): that middleware
    answers the 500 of an unhandled exception with the `send` it was given, so a middleware added with
    `add_middleware` (which sits inside it) never sees that answer. Should the app raise before answering at all
    (its 500 handler failing too), this answers the 500 itself, with the headers, and lets the error go on to the
    server's log.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        ours = headers_for(scope["path"])
        names = {name for name, _ in ours}
        CALLER.set(CallerSlot())
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + ours}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            if not started:
                await with_headers(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(FAILED))],
                    }
                )
                await send({"type": "http.response.body", "body": FAILED})
            raise
