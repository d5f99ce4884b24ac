"""The codec endpoint for the Temporal UI (Temporal's codec-server protocol): staff see payloads decrypted.

The UI posts `{"payloads": [...]}` (protobuf JSON) to /codec/decode from its own origin; the portal answers
only a signed-in staff session or a staff API token, and only to the UI's origins (CORS). Everyone else sees
the ciphertext Temporal stores.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from offerdesk.portal.accounts import Principal
from offerdesk.portal.auth import SESSION_COOKIE, accounts, desk
from schemas.portal import Role

router = APIRouter(prefix="/codec", include_in_schema=False)
ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"


def _cors(request: Request, response: Response) -> Response:
    origin = request.headers.get("origin", "").rstrip("/")
    if origin in request.app.state.ui_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
        response.headers["Vary"] = "Origin"
    response.headers["Cache-Control"] = "no-store"
    return response


async def _caller(request: Request) -> Principal | None:
    """A staff API token or a staff session; the UI's requests carry no CSRF token, and decoding changes nothing."""
    found = accounts(request)
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return await asyncio.to_thread(found.token, authorization[7:].strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    return await asyncio.to_thread(found.session, cookie) if cookie else None


@router.options("/decode")
@router.options("/encode")
async def preflight(request: Request) -> Response:
    return _cors(request, Response(status_code=204))


@router.post("/decode")
async def decode(request: Request) -> Response:
    who = await _caller(request)
    if who is None:
        return _cors(request, _refuse(401, "Unauthorized", "sign in to the portal as staff, or send a staff API token"))
    if who.role is not Role.STAFF:
        return _cors(request, _refuse(403, "Forbidden", f"only staff may decode payloads; a {who.role.value} may not"))
    try:
        payloads = json_format.ParseDict(await request.json(), Payloads())
    except (ValueError, json_format.ParseError) as e:
        return _cors(request, _refuse(422, "Invalid", f'send {{"payloads": [...]}} as protobuf JSON: {e}'))
    codec = desk(request).engine.client.data_converter.payload_codec
    assert codec is not None
    decoded = await codec.decode(payloads.payloads)
    body: dict[str, Any] = json_format.MessageToDict(Payloads(payloads=decoded))
    return _cors(request, JSONResponse(body))


def _refuse(status: int, error: str, message: str) -> Response:
    return JSONResponse({"error": error, "message": message, "fields": []}, status_code=status)
