"""Caps on request bodies, enforced before anything parses them: 1 MiB, and 16 MiB for an offer upload; and JSON
nested no deeper than an offer may be (64 levels)."""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from offerdesk.portal.errors import status_of
from offers.documents import MAX_JSON_DEPTH, MAX_OFFER_BYTES
from schemas.refusal import Refusal

TOO_LARGE = status_of(Refusal.TOO_LARGE)
TOO_DEEP = status_of(Refusal.INVALID_REQUEST)
MAX_BODY_BYTES = 1024 * 1024
MAX_UPLOAD_BYTES = MAX_OFFER_BYTES
"""An offer upload's body; multipart framing (a few hundred bytes) counts against it too."""


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
    return f"the request body is over the limit of {_size(limit)} for {what}; send a smaller offer"


async def _refuse(send: Send, message: str, status: int = TOO_LARGE, kind: Refusal = Refusal.TOO_LARGE) -> None:
    body = json.dumps({"error": kind, "message": message, "fields": []}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ---- nesting -----------------------------------------------------------------------------------

FORMS = (b"multipart/form-data", b"application/x-www-form-urlencoded")
"""The bodies that are not JSON: the pages' forms and the uploads. Every other body is read as JSON by whichever
route takes it: FastAPI reads one without a Content-Type, or with a JSON one, into the route's model; the offer
submit route (parse_offer) and the codec endpoint read any body as JSON."""

_ESCAPES = (b"\\\\", b'\\"')  # an escaped backslash, then an escaped quote: neither ends a string
_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # as signed bytes: +1 opens, -1 closes
_SCALARS = bytes(sorted(set(range(256)) - set(b"[]{}")))  # everything else goes
_LEAF = b"\x01\xff"  # an empty array or object, once strings and scalars are gone
_CHUNK = 1 << 20
"""Work in parts of this size, each one short call into C: in a thread, the event loop gets its turn between."""


def json_depth(body: bytes, stop: int = sys.maxsize) -> int:
    """How deeply `body` nests arrays and objects as JSON text (`[[]]` is 2; a string's brackets do not count),
    without parsing it; or, as soon as a part of it nests past `stop`, that part's depth.

    Linear in the body and at C speed: escapes, strings and scalars are dropped (`bytes.replace`, `split`,
    `translate`), then a running sum counts the brackets. On text that is not valid JSON it may count too deep,
    but never too shallow in the valid part before the first error, which is as far as any parser reads.
    """
    encoding = json.detect_encoding(body)  # as json.loads reads bytes: UTF-8, -16 or -32
    if encoding not in ("utf-8", "utf-8-sig"):
        try:
            body = body.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")  # as json.loads decodes
        except UnicodeError:
            return 0  # no JSON reader takes it either
    for escape in _ESCAPES:
        body = body.replace(escape, b"")
    # What is left of a string is its two quotes: outside strings, the pieces between quotes alternate.
    parts: list[bytes] = []
    in_string = False
    for start in range(0, len(body), _CHUNK):
        pieces = body[start : start + _CHUNK].split(b'"')
        parts.append(b"".join(pieces[1 if in_string else 0 :: 2]).translate(_STEP, _SCALARS))
        in_string ^= len(pieces) % 2 == 0
    steps = b"".join(parts)
    # The deepest point is always inside an empty array or object: drop those (one pass) and count one for them.
    inner = steps.replace(_LEAF, b"")
    extra = 1 if len(inner) < len(steps) else 0
    depth = level = 0
    for start in range(0, len(inner), _CHUNK):
        chunk = inner[start : start + _CHUNK]
        depth = max(depth, max(itertools.accumulate(memoryview(chunk).cast("b"), initial=level)))
        if depth + extra > stop:
            break
        level += chunk.count(b"\x01") - chunk.count(b"\xff")
    return depth + extra


def too_deep_message(limit: int = MAX_JSON_DEPTH) -> str:
    return (
        f"the request body nests arrays and objects more than {limit} levels deep; no request to the portal takes "
        "more than a few (an offer document: 3)"
    )


class JsonDepthLimit:
    """Answer 422 to a body nested more than `limit` levels deep, before any route parses it: Python's json and
    the readers after it (pydantic, protobuf) recurse, and a deep enough body would exhaust the stack (a 500).

    Every body but a form's is checked (see `FORMS`), whatever its Content-Type says. The body is read whole first
    (inside `BodyLimit`, so at most its cap), then handed to the app as it came.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_json_body(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before it finished sending
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if len(body) > _CHUNK:  # an offer of up to 16 MiB: in a thread, in parts, so other requests get answered
            depth = await run_in_threadpool(json_depth, body, self.limit)
        else:
            depth = json_depth(body, self.limit)
        if depth > self.limit:
            await _refuse(send, too_deep_message(self.limit), TOO_DEEP, Refusal.INVALID_REQUEST)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: a disconnect, when it comes
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _has_json_body(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    if headers.get(b"content-length", b"0") in (b"0", b"") and b"transfer-encoding" not in headers:
        return False
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return content_type not in FORMS
