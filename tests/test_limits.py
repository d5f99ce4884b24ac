"""Body caps: 1 MiB for every request, 16 MiB for an offer upload; on a tiny app, not the portal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, File, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from offerdesk.portal import api, pages
from offerdesk.portal.limits import MAX_BODY_BYTES, MAX_UPLOAD_BYTES, BodyLimit
from offers.documents import MAX_OFFER_BYTES

MiB = 1024 * 1024
OFFER = "/rounds/R1/offers/JP"


def tiny_app() -> FastAPI:
    """The portal's upload routes and one ordinary route, each answering with the size it read."""
    app = FastAPI()
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
