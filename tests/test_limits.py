"""Body caps: 1 MiB for every request, 16 MiB for an offer upload, and JSON no deeper than 64 levels; on a tiny app,
not the portal."""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, File, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from offerdesk.portal import api, pages
from offerdesk.portal.limits import MAX_BODY_BYTES, MAX_UPLOAD_BYTES, BodyLimit, JsonDepthLimit, json_depth
from offers.documents import MAX_JSON_DEPTH, MAX_OFFER_BYTES

MiB = 1024 * 1024
OFFER = "/rounds/R1/offers/JP"


def tiny_app() -> FastAPI:
    """The portal's upload routes and one ordinary route, each answering with the size it read."""
    app = FastAPI()
    app.add_middleware(JsonDepthLimit)  # as the portal stacks them: the depth check reads what BodyLimit lets through
    app.add_middleware(BodyLimit)

    @app.post("/api/rounds/{round_id}/offers/{partner}/versions")
    async def submit(round_id: str, partner: str, request: Request) -> int:
        return len(json.loads(await request.body())["pad"])  # as the portal reads it: the body, then parse_offer

    @app.post("/api/rounds/{round_id}/offers/{partner}/versions/upload")
    async def api_upload(round_id: str, partner: str, file: Annotated[UploadFile, File()]) -> int:
        return len(await file.read())

    @app.post("/rounds/{round_id}/offers/{partner}/upload")
    async def page_upload(round_id: str, partner: str, file: Annotated[UploadFile, File()]) -> int:
        return len(await file.read())

    @app.post("/api/rounds/{round_id}/offers/{partner}/comments")
    async def comment(round_id: str, partner: str, body: dict[str, Any]) -> int:
        return len(body["pad"])

    app.state.failures = []

    async def failed(request: Request, exc: Exception) -> Response:
        """As the portal does: anything not handled otherwise is a 500, and a bug."""
        app.state.failures.append(exc)
        return JSONResponse({"error": "InternalError"}, status_code=500)

    app.add_exception_handler(Exception, failed)
    return app


@pytest.fixture
def app() -> FastAPI:
    return tiny_app()


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as c:
        yield c


def json_body(size: int) -> bytes:
    """A JSON object of exactly `size` bytes."""
    frame = b'{"pad": ""}'
    return b'{"pad": "' + b"x" * (size - len(frame)) + b'"}'


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    """The body streamed without a Content-Length, as a chunked upload arrives."""
    for start in range(0, len(data), 256 * 1024):
        yield data[start : start + 256 * 1024]


JSON = {"Content-Type": "application/json"}


def test_the_upload_limit_is_an_offers_limit() -> None:
    assert MAX_UPLOAD_BYTES == MAX_OFFER_BYTES == 16 * 1024 * 1024
    assert MAX_BODY_BYTES == 1024 * 1024


def test_only_the_portals_offer_upload_routes_take_16_mib() -> None:
    """Every POST route of the real API and pages, so a renamed upload route or a new lookalike fails here."""
    limit = BodyLimit(tiny_app())
    routes = (*api.router.routes, *pages.router.routes)
    posts = [r.path for r in routes if isinstance(r, APIRoute) and "POST" in (r.methods or ())]
    concrete = {p.format(round_id="R1", partner="JP", token_id="t1", name="ada"): p for p in posts}
    large = {template for path, template in concrete.items() if limit.limit_for("POST", path)[0] == 16 * MiB}
    assert large == {
        "/api/rounds/{round_id}/offers/{partner}/versions",
        "/api/rounds/{round_id}/offers/{partner}/versions/upload",
        "/rounds/{round_id}/offers/{partner}/upload",
    }
    small = [path for path, template in concrete.items() if template not in large]
    assert len(small) > 20 and all(limit.limit_for("POST", path)[0] == MiB for path in small)
    assert limit.limit_for("PUT", f"/api{OFFER}/versions") == (MiB, None)  # method + path, not the path alone


@pytest.mark.asyncio
async def test_an_ordinary_request_over_1_mib_is_refused_with_its_limit(client: httpx.AsyncClient) -> None:
    url = f"/api{OFFER}/comments"
    assert (await client.post(url, content=json_body(MiB), headers=JSON)).json() == MiB - 11
    over = await client.post(url, content=json_body(MiB + 1), headers=JSON)
    assert over.status_code == 413
    assert over.json()["message"] == "the request body is over the limit of 1 MiB; send a smaller request"


@pytest.mark.parametrize("url", [f"/api{OFFER}/versions/upload", f"{OFFER}/upload"])
@pytest.mark.asyncio
async def test_an_offer_file_of_several_mib_is_uploaded(client: httpx.AsyncClient, url: str) -> None:
    answer = await client.post(url, files={"file": ("offer.json", json_body(5 * MiB))})
    assert answer.status_code == 200 and answer.json() == 5 * MiB


@pytest.mark.asyncio
async def test_an_offer_document_of_several_mib_is_submitted_as_json(client: httpx.AsyncClient) -> None:
    answer = await client.post(f"/api{OFFER}/versions", content=json_body(5 * MiB), headers=JSON)
    assert answer.status_code == 200 and answer.json() == 5 * MiB - 11


@pytest.mark.parametrize("url", [f"/api{OFFER}/versions", f"/api{OFFER}/versions/upload", f"{OFFER}/upload"])
@pytest.mark.asyncio
async def test_an_upload_over_16_mib_is_refused_saying_so(client: httpx.AsyncClient, url: str) -> None:
    over = await client.post(url, content=json_body(16 * MiB + 1), headers=JSON)
    assert over.status_code == 413
    assert over.json() == {
        "error": "TooLarge",
        "message": "the request body is over the limit of 16 MiB for an offer upload; send a smaller offer",
        "fields": [],
    }


@pytest.mark.parametrize(
    ("url", "size", "limit"),
    [(f"/api{OFFER}/comments", MiB + 1, "1 MiB"), (f"/api{OFFER}/versions", 16 * MiB + 1, "16 MiB")],
)
@pytest.mark.asyncio
async def test_a_streamed_body_is_refused_with_413_not_a_parse_error(
    app: FastAPI, client: httpx.AsyncClient, url: str, size: int, limit: str
) -> None:
    """Without Content-Length the cap trips while the app reads the body, where FastAPI would make the error a 400."""
    over = await client.post(url, content=chunks(json_body(size)), headers=JSON)
    assert over.status_code == 413 and f"over the limit of {limit}" in over.json()["message"]
    assert app.state.failures == []
    within = await client.post(url, content=chunks(json_body(size - 1)), headers=JSON)
    assert within.status_code == 200


@pytest.mark.asyncio
async def test_a_streamed_upload_over_16_mib_is_refused() -> None:
    """Multipart, chunked: the form parser reads the body, and the refusal is still a 413 with the limit."""
    app = tiny_app()
    boundary = "b0undary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="o.json"\r\n\r\n'.encode()
    body = head + json_body(16 * MiB) + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as c:
        over = await c.post(f"{OFFER}/upload", content=chunks(body), headers=headers)
    assert over.status_code == 413 and json.loads(over.text)["message"].startswith(
        "the request body is over the limit of 16 MiB for an offer upload"
    )


@pytest.mark.asyncio
async def test_a_content_length_that_is_not_a_number_is_refused(client: httpx.AsyncClient) -> None:
    answer = await client.post(f"/api{OFFER}/comments", content=b"{}", headers={**JSON, "Content-Length": "2e3"})
    assert answer.status_code == 413


# ---- nesting -------------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def real_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(real_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(real_depth, value.values()), default=0)
    return 0


def random_document(rng: random.Random, level: int = 0) -> object:
    """Arrays and objects within each other, with strings that hold brackets, quotes and backslashes."""
    if level > 7 or rng.random() < 0.3:
        return rng.choice(["[x", '\\"]{', "\\", "}}", "\u5b5b", 1, 2.5, None, True])
    if rng.random() < 0.5:
        return [random_document(rng, level + 1) for _ in range(rng.randint(0, 3))]
    return {f"k{i}[": random_document(rng, level + 1) for i in range(rng.randint(0, 3))}


def test_json_depth_counts_brackets_outside_strings_as_a_parser_nests_them() -> None:
    texts = (b"", b"1", b"{}", b"[[]]", b'["[[["]', b'{"a": {"b": [1, [2]]}}')
    assert [json_depth(text) for text in texts] == [0, 0, 1, 2, 1, 4]
    assert json_depth(b'["\\\\", ["\\"[["]]') == 2  # escaped backslash, then an escaped quote inside a string
    assert json_depth(b"][") == 0 and json_depth(nested(MAX_JSON_DEPTH + 1)) == MAX_JSON_DEPTH + 1
    rng = random.Random(21)
    for _ in range(2000):
        document = random_document(rng)
        text = json.dumps(document, ensure_ascii=rng.random() < 0.5)
        for encoding in ("utf-8", "utf-8-sig", "utf-16", "utf-32-be"):  # every encoding json.loads takes as bytes
            assert json_depth(text.encode(encoding)) == real_depth(document), (text, encoding)


def test_json_depth_takes_an_offers_16_mib_in_well_under_a_second() -> None:
    hostile = [
        b"[" * (16 * MiB),  # deep at once: stops at the first part past the limit
        b"[]" * (8 * MiB),  # 8 million empty arrays side by side
        b'["' + b'\\"' * (8 * MiB) + b'"]',  # one string of escaped quotes
        b'["",' * (4 * MiB),  # 4 million short strings
    ]
    for body in hostile:
        started = time.perf_counter()
        json_depth(body, MAX_JSON_DEPTH)
        assert time.perf_counter() - started < 2.0  # about 0.3 s here; generous for a shared machine


@pytest.mark.parametrize(
    "url", [f"/api{OFFER}/comments", f"/api{OFFER}/versions", f"{OFFER}/upload", "/codec/decode", "/no-such-route"]
)
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 50_000])  # just past the limit; past Python's recursion limit
@pytest.mark.asyncio
async def test_deep_json_is_refused_before_any_route_reads_it(
    app: FastAPI, client: httpx.AsyncClient, url: str, depth: int
) -> None:
    body = b'{"pad": ' + nested(depth - 1) + b"}"
    for headers in (JSON, {"Content-Type": "text/plain"}, {}):  # whatever the body says it is, but a form
        answer = await client.post(url, content=body, headers=headers)
        assert answer.status_code == 422, answer.text
        assert answer.json() == {
            "error": "InvalidRequest",
            "message": f"the request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; no "
            "request to the portal takes more than a few (an offer document: 3)",
            "fields": [],
        }
    streamed = await client.post(url, content=chunks(body), headers=JSON)
    assert streamed.status_code == 422
    assert app.state.failures == []


@pytest.mark.asyncio
async def test_json_at_the_depth_limit_reaches_the_route_as_it_was_sent(client: httpx.AsyncClient) -> None:
    body = b'{"pad": "[[[", "deep": ' + nested(MAX_JSON_DEPTH - 1) + b"}"
    assert (await client.post(f"/api{OFFER}/comments", content=body, headers=JSON)).json() == 3
    assert (await client.post(f"/api{OFFER}/versions", content=chunks(body), headers=JSON)).json() == 3


@pytest.mark.asyncio
async def test_forms_and_uploads_are_not_read_as_json(client: httpx.AsyncClient) -> None:
    """A file's bytes are the route's to read: an uploaded workbook or document is not the request's JSON."""
    content = nested(10_000)
    answer = await client.post(f"{OFFER}/upload", files={"file": ("offer.json", content)})
    assert answer.status_code == 200 and answer.json() == len(content)


@pytest.mark.asyncio
async def test_a_deep_body_over_the_size_limit_is_a_413(client: httpx.AsyncClient) -> None:
    """The size cap comes first: the depth check reads no more than it lets through."""
    over = await client.post(f"/api{OFFER}/comments", content=chunks(nested(MiB)), headers=JSON)
    assert over.status_code == 413 and "over the limit of 1 MiB" in over.json()["message"]
