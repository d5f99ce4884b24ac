"""Offers as files: the blank workbook to fill in, and one version of an offer as .xlsx, .json or .csv.

Anyone signed in may take the template; an export goes to whoever may read the offer (a negotiator of another
partner gets the same 404 as for the offer itself).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from offerdesk.engine import Refused
from offerdesk.portal.access import Action, NotFound, require
from offerdesk.portal.accounts import Principal
from offerdesk.portal.api import Partner, RoundId
from offerdesk.portal.auth import api_caller, desk, page_caller
from offerdesk.portal.desk import Desk
from offers.spreadsheets import XLSX_MEDIA_TYPE, export_offer, write_workbook
from schemas.portal import ErrorBody

router = APIRouter()
TheDesk = Annotated[Desk, Depends(desk)]
Format = Literal["xlsx", "json", "csv"]
MEDIA_TYPES: dict[str, str] = {"xlsx": XLSX_MEDIA_TYPE, "json": "application/json", "csv": "text/csv; charset=utf-8"}
TEMPLATE_NAME = "offer-template.xlsx"
EXPORT = "/rounds/{round_id}/offers/{partner}/versions/{number}/export.{fmt}"
Number = Annotated[int, Path(ge=1, le=1_000_000, description="The version's number, from 1")]


@functools.cache
def _template() -> bytes:
    """The blank workbook, built once."""
    return write_workbook()


async def _template_bytes() -> bytes:
    return await asyncio.to_thread(_template)


def _file(data: bytes, media_type: str, filename: str) -> Response:
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def _export(d: Desk, who: Principal, round_id: str, partner: str, number: int, fmt: str) -> Response:
    require(who, Action.READ_OFFER, round_id, partner)
    try:
        document, found, _ = await d.engine.document(round_id, partner, number)
    except Refused as e:
        if e.kind == "NoVersion":
            raise NotFound(e.message) from None
        raise
    data = await asyncio.to_thread(export_offer, document, fmt)
    suffix = "-tariff-lines" if fmt == "csv" else ""
    return _file(data, MEDIA_TYPES[fmt], f"offer-{round_id}-{partner}-v{found.number}{suffix}.{fmt}")


_refusals: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "Not signed in, or the API token is not valid",
        404: "Nothing you may see exists here (no such round, offer or version)",
        422: "The request is not valid, or the version holds text a spreadsheet cannot store",
        503: "An outage: Temporal cannot be reached, or the store is away",
    }.items()
}
_xlsx: dict[int | str, dict[str, object]] = {
    200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "The blank offer workbook"}
}
_export_doc: dict[int | str, dict[str, object]] = {
    200: {
        "content": {t: {} for t in MEDIA_TYPES.values()},
        "description": "The version as a workbook, as its canonical JSON document, or its tariff lines as CSV",
    }
}


@router.get("/api/offer-template.xlsx", tags=["offers"], response_class=Response, responses={**_refusals, **_xlsx})
async def api_template(who: Annotated[Principal, Depends(api_caller)]) -> Response:
    """The blank offer workbook: fill it in and upload it to …/versions/upload."""
    return _file(await _template_bytes(), XLSX_MEDIA_TYPE, TEMPLATE_NAME)


@router.get("/api" + EXPORT, tags=["offers"], response_class=Response, responses={**_refusals, **_export_doc})
async def api_export(
    round_id: RoundId,
    partner: Partner,
    number: Number,
    fmt: Format,
    who: Annotated[Principal, Depends(api_caller)],
    d: TheDesk,
) -> Response:
    """One version of the offer: .xlsx (reads back as the same document), .json (canonical: its SHA-256 is the
    version's digest) or .csv (the tariff lines only)."""
    return await _export(d, who, round_id, partner, number, fmt)


@router.get("/offer-template.xlsx", include_in_schema=False)
async def page_template(who: Annotated[Principal, Depends(page_caller)]) -> Response:
    return _file(await _template_bytes(), XLSX_MEDIA_TYPE, TEMPLATE_NAME)


@router.get(EXPORT, include_in_schema=False)
async def page_export(
    round_id: str,
    partner: str,
    number: Number,
    fmt: Format,
    who: Annotated[Principal, Depends(page_caller)],
    d: TheDesk,
) -> Response:
    return await _export(d, who, round_id, partner, number, fmt)
