"""Caps on request bodies, enforced before anything parses them: 1 MiB, and 16 MiB for an offer upload."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offerdesk.portal.errors import status_of
from offers.documents import MAX_OFFER_BYTES
from schemas.refusal import Refusal

TOO_LARGE = status_of(Refusal.TOO_LARGE)
MAX_BODY_BYTES = 1024 * 1024
MAX_UPLOAD_BYTES = MAX_OFFER_BYTES
"""An offer upload's body; multipart framing (a few hundred bytes) counts against it too."""
MAX_LETTER_UPLOAD = 64 * 1024 * 1024 + 64 * 1024
"""A letter to check (offerdesk/portal/desk/letters.py: MAX_LETTER_BYTES), and room for the multipart framing."""


@dataclass(frozen=True)
class RouteLimit:
    """A larger cap for the requests with this method whose path matches `path` (a full match)."""

    method: str
    path: re.Pattern[str]
    limit: int
    what: str
    """What the route takes, for the refusal: "an offer upload"."""


_OFFER = r"/rounds/[^/]+/offers/[^/]+"

UPLOAD_ROUTES: tuple[RouteLimit, ...] = (
    # The JSON API: the document as the body, or as a file (multipart/form-data).
    RouteLimit("POST", re.compile(rf"/api{_OFFER}/versions(?:/upload)?/?"), MAX_UPLOAD_BYTES, "an offer upload"),
    # The page's upload form (offerdesk/portal/pages.py, no prefix).
    RouteLimit("POST", re.compile(rf"{_OFFER}/upload/?"), MAX_UPLOAD_BYTES, "an offer upload"),
    # A letter to check (offerdesk/portal/verify.py): the API and the page.
    RouteLimit("POST", re.compile(r"/api/letters/verify/?|/letters/check/?"), MAX_LETTER_UPLOAD, "a letter to check"),
)


class BodyTooLarge(HTTPException):
    """Raised to the app from a read past the limit. A 413 HTTPException, so FastAPI passes it on instead of making it
    a 400; whatever the app then answers is dropped, as the 413 has already gone out."""

    def __init__(self, message: str) -> None:
        super().__init__(status_code=TOO_LARGE, detail=message)


def _size(size: int) -> str:
    """A limit as people write it: "16 MiB"."""
    if size % 2**20 == 0:
        return f"{size >> 20} MiB"
    return f"{size >> 10} KiB" if size % 2**10 == 0 else f"{size:,} bytes"


class BodyLimit:
    """Answer 413 to a body over the limit: at once when Content-Length says so, else as soon as it streams past.

    Routes in `routes` take their own, larger limit; every other request takes `limit`.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES, routes: Sequence[RouteLimit] = UPLOAD_ROUTES) -> None:
        self.app = app
        self.limit = limit
        self.routes = tuple(routes)

    def limit_for(self, method: str, path: str) -> tuple[int, str | None]:
        """The cap on this request's body, and what the route takes when it has its own cap."""
        for route in self.routes:
            if route.method == method and route.path.fullmatch(path):
                return route.limit, route.what
        return self.limit, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, what = self.limit_for(scope["method"], scope["path"])
        refusal = refusal_message(limit, what)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, refusal)
            return
        seen = 0
        started = False
        refused = False

        async def counted_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Refuse now, before the app's own handlers answer in their shape (a page, a 400 from a parser).
                    if not started and not refused:
                        await _refuse(send, refusal)
                        refused = True
                    raise BodyTooLarge(refusal)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has gone out; drop whatever the app answers to the read that failed
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started and not refused:
                await _refuse(send, refusal)


def refusal_message(limit: int, what: str | None) -> str:
    """The sentence of a 413, with the limit that applied."""
    if what is None:
        return f"the request body is over the limit of {_size(limit)}; send a smaller request"
    smaller = "file" if what.startswith("a letter") else "offer"
    return f"the request body is over the limit of {_size(limit)} for {what}; send a smaller {smaller}"


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps({"error": Refusal.TOO_LARGE, "message": message, "fields": []}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": TOO_LARGE,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
