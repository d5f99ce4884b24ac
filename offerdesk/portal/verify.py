"""Checking a letter: the page *Check a letter* and `POST /api/letters/verify`, for anyone signed in.

Both take the PDF as a multipart `file` and answer what its signature says: who signed it and when, the timestamp,
whether the whole file is covered and unchanged, and whether the signer chains to the installation's certificate.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from offerdesk.portal.access import NotFound
from offerdesk.portal.desk.letters import MAX_LETTER_BYTES, office_certificate
from offerdesk.portal.params import Caller, Person, Poster, TheDesk
from offerdesk.portal.responses import refusals
from offerdesk.portal.templating import render
from schemas.letter import LetterCheck

router = APIRouter()
PAGE = "/letters/check"


async def _read(file: UploadFile) -> bytes:
    return await file.read(MAX_LETTER_BYTES + 1)


@router.post(
    "/api/letters/verify",
    tags=["letters"],
    responses=refusals(
        {
            400: "The body cannot be read: a broken multipart form",
            401: "Not signed in, or the API token is not valid",
            403: "A browser session without its CSRF header",
            413: "The request body is over its limit (64 MiB)",
            422: "No file, an empty one, or one that is not a PDF",
            503: "An outage: the database of the audit log is away",
        }
    ),
)
async def api_verify(who: Caller, d: TheDesk, file: Annotated[UploadFile, File()]) -> LetterCheck:
    """Check a letter's signature (the PDF as a multipart `file`): `valid` when it is signed, unchanged since, and
    the signer chains to the installation's certificate; `reason` says why in a sentence."""
    return await d.check_letter(who, await _read(file), file.filename or "upload")


@router.get(PAGE, include_in_schema=False)
async def check_page(request: Request, who: Person) -> HTMLResponse:
    return await render(request, "check_letter.html", who, check=None, filename=None, has_certificate=await _has_cert())


@router.post(PAGE, include_in_schema=False)
async def check_upload(request: Request, who: Poster, d: TheDesk, file: Annotated[UploadFile, File()]) -> HTMLResponse:
    filename = file.filename or "upload"
    check = await d.check_letter(who, await _read(file), filename)
    return await render(
        request, "check_letter.html", who, check=check, filename=filename, has_certificate=await _has_cert()
    )


@router.get("/letters/office-certificate.pem", include_in_schema=False)
async def certificate(who: Person) -> Response:
    """The office's signing certificate, for a partner's PDF reader."""
    pem = await asyncio.to_thread(office_certificate)
    if pem is None:
        raise NotFound("this portal has no signing certificate (OFFERDESK_SIGNING_KEY)")
    headers = {"Content-Disposition": 'attachment; filename="office-signing-certificate.pem"'}
    return Response(pem, media_type="application/x-pem-file", headers=headers)


async def _has_cert() -> bool:
    return await asyncio.to_thread(office_certificate) is not None
