"""What the routers answer besides models: files to download, and the refusals the API documents."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from schemas.portal import ErrorBody

Responses = dict[int | str, dict[str, Any]]


def refusals(texts: dict[int, str]) -> Responses:
    """The OpenAPI description of a route's refusals: each status with what it means there, and its body."""
    return {code: {"model": ErrorBody, "description": text} for code, text in texts.items()}


API_REFUSALS = refusals(
    {
        400: "The body cannot be read: JSON that is not UTF-8 text, or a broken multipart form",
        401: "Not signed in, or the API token is not valid",
        403: "Your role may not do this",
        404: "Nothing you may see exists here",
        409: "The offer's state does not allow this now",
        413: "The request body is over its limit: 16 MiB for an offer upload, 1 MiB for anything else",
        422: "The request or document is not valid; `fields` names each path at fault",
        503: "An outage: Temporal cannot be reached, no worker is running, or the store is away",
    }
)


def attachment(content: bytes | str, media_type: str, filename: str, **headers: str) -> Response:
    """A file to download as `filename`."""
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content, media_type=media_type, headers={**disposition, **headers})


def pdf(content: bytes, filename: str, sha256: str) -> Response:
    """A letter: its digest is its ETag."""
    return attachment(content, "application/pdf", filename, ETag=f'"{sha256}"')


def letters_zip(content: bytes, round_id: str, count: int) -> Response:
    """Every issued letter of a round in one ZIP; X-Letter-Count says how many, for programs."""
    return attachment(content, "application/zip", f"offerdesk-{round_id}-letters.zip", **{"X-Letter-Count": str(count)})
