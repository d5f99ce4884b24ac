"""The codec endpoint for the Temporal UI (Temporal's codec-server protocol): staff see payloads decrypted.

The UI posts `{"payloads": [...]}` (protobuf JSON) to /codec/decode from its own origin; the portal answers
only a signed-in staff session or a staff API token, and only to the UI's origins (CORS). Everyone else sees
the ciphertext Temporal stores.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf import json_format

from offerdesk.people.principal import Principal
from offerdesk.portal.access import Forbidden
from offerdesk.portal.auth import SESSION_COOKIE, desk, token_of
from offerdesk.portal.errors import said
from schemas.refusal import Refusal

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
    """An API token or a session; the UI's requests carry no CSRF token, and decoding changes nothing."""
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return await token_of(request, authorization[7:].strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    return await desk(request).by_session(cookie) if cookie else None


@router.options("/decode")
@router.options("/encode")
async def preflight(request: Request) -> Response:
    return _cors(request, Response(status_code=204))


@router.post("/decode")
async def decode(request: Request) -> Response:
    who = await _caller(request)
    if who is None:
        return _refuse(request, Refusal.UNAUTHORIZED, "sign in to the portal as staff, or send a staff API token")
    try:
        decoded = await desk(request).decode(who, await request.body())
    except Forbidden as e:
        return _refuse(request, Refusal.FORBIDDEN, e.message)
    except (ValueError, RecursionError, json_format.ParseError) as e:  # JsonDepthLimit refuses deep ones first
        return _refuse(request, Refusal.INVALID, f'send {{"payloads": [...]}} as protobuf JSON: {e}')
    return _cors(request, JSONResponse(decoded))


def _refuse(request: Request, kind: Refusal, message: str) -> Response:
    status, body = said(kind, message)
    return _cors(request, JSONResponse(body.model_dump(), status_code=status))
