"""Offers as files: the blank workbook to fill in, and one version of an offer as .xlsx, .json or .csv.

Anyone signed in may take the template; an export goes to whoever may read the offer (a negotiator of another
partner gets the same 404 as for the offer itself).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Literal

from fastapi import APIRouter
from starlette.responses import Response

from offerdesk.people.principal import Principal
from offerdesk.portal.desk import Desk
from offerdesk.portal.params import Caller, Number, Partner, Person, RoundId, TheDesk
from offerdesk.portal.responses import Responses, attachment, refusals
from offers.spreadsheets import XLSX_MEDIA_TYPE, write_workbook

router = APIRouter()
Format = Literal["xlsx", "json", "csv"]
MEDIA_TYPES: dict[str, str] = {"xlsx": XLSX_MEDIA_TYPE, "json": "application/json", "csv": "text/csv; charset=utf-8"}
TEMPLATE_NAME = "offer-template.xlsx"
EXPORT = "/rounds/{round_id}/offers/{partner}/versions/{number}/export.{fmt}"


@functools.cache
def _template() -> bytes:
    """The blank workbook, built once."""
    return write_workbook()


async def _template_file() -> Response:
    return attachment(await asyncio.to_thread(_template), XLSX_MEDIA_TYPE, TEMPLATE_NAME)


async def _export(d: Desk, who: Principal, round_id: str, partner: str, number: int, fmt: str) -> Response:
    data = await d.export(who, round_id, partner, number, fmt)
    suffix = "-tariff-lines" if fmt == "csv" else ""
    return attachment(data, MEDIA_TYPES[fmt], f"offer-{round_id}-{partner}-v{number}{suffix}.{fmt}")


_refusals = refusals(
    {
        401: "Not signed in, or the API token is not valid",
        404: "Nothing you may see exists here (no such round, offer or version)",
        422: "The request is not valid, or the version holds text a spreadsheet cannot store",
        503: "An outage: Temporal cannot be reached, or the store is away",
    }
)
_xlsx: Responses = {200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "The blank offer workbook"}}
_export_doc: Responses = {
    200: {
        "content": {t: {} for t in MEDIA_TYPES.values()},
        "description": "The version as a workbook, as its canonical JSON document, or its tariff lines as CSV",
    }
}


@router.get("/api/offer-template.xlsx", tags=["offers"], response_class=Response, responses={**_refusals, **_xlsx})
async def api_template(who: Caller) -> Response:
    """The blank offer workbook: fill it in and upload it to …/versions/upload."""
    return await _template_file()


@router.get("/api" + EXPORT, tags=["offers"], response_class=Response, responses={**_refusals, **_export_doc})
async def api_export(
    round_id: RoundId, partner: Partner, number: Number, fmt: Format, who: Caller, d: TheDesk
) -> Response:
    """One version of the offer: .xlsx (reads back as the same document), .json (canonical: its SHA-256 is the
    version's digest) or .csv (the tariff lines only)."""
    return await _export(d, who, round_id, partner, number, fmt)


@router.get("/offer-template.xlsx", include_in_schema=False)
async def page_template(who: Person) -> Response:
    return await _template_file()


@router.get(EXPORT, include_in_schema=False)
async def page_export(round_id: str, partner: str, number: Number, fmt: Format, who: Person, d: TheDesk) -> Response:
    return await _export(d, who, round_id, partner, number, fmt)
