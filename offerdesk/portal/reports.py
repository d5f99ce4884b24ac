"""The round at a glance, for staff: the matrix of partners against categories, its chart, and its exports.

The same report behind the page, the JSON API and the CSV and XLSX files, built by offers.report from the
offers' cards as visibility lists them (no worker needed).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from starlette.responses import Response

from offerdesk.portal.access import Action, require
from offerdesk.portal.accounts import Principal
from offerdesk.portal.api import RoundId, _errors
from offerdesk.portal.auth import api_caller, desk, page_caller
from offerdesk.portal.desk import Desk
from offerdesk.portal.pages import render
from offers.reference import load_partners, load_policy
from offers.report import rate_chart_svg, report_csv, report_xlsx, round_report
from schemas.report import RoundReport
from schemas.validation import CATEGORY_TITLES, Category

router = APIRouter()
Caller = Annotated[Principal, Depends(api_caller)]
Person = Annotated[Principal, Depends(page_caller)]
TheDesk = Annotated[Desk, Depends(desk)]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHORT_TITLES: dict[Category, str] = {
    Category.TARIFF_INDUSTRIAL: "Industrial",
    Category.TARIFF_AGRICULTURAL: "Agricultural",
    Category.QUOTAS: "Quotas",
    Category.NON_TARIFF_BARRIERS: "Non-tariff",
    Category.DIGITAL_TRADE: "Digital",
    Category.ECONOMIC_SECURITY: "Security",
    Category.COUNTRY_SPECIFIC: "Country",
}
"""Column heads of the matrix; the full titles ride along as tooltips."""


async def build_report(d: Desk, who: Principal, round_id: str) -> RoundReport:
    """Staff only: the round as opened, and every offer's card from visibility, made into the report."""
    require(who, Action.DASHBOARD)
    status, cards = await asyncio.gather(d.engine.round_status(round_id), d.engine.round_cards(round_id))
    return round_report(
        status,
        cards,
        load_partners(),
        as_of=datetime.now(UTC),
        baseline_rate_pct=load_policy().baseline_rate_pct,
    )


def _download(content: bytes | str, media_type: str, filename: str) -> Response:
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


def _csv(report: RoundReport) -> Response:
    return _download(report_csv(report), "text/csv; charset=utf-8", f"offerdesk-{report.round_id}-report.csv")


async def _xlsx(report: RoundReport) -> Response:
    content = await asyncio.to_thread(report_xlsx, report)
    return _download(content, XLSX, f"offerdesk-{report.round_id}-report.xlsx")


# ---- the API -------------------------------------------------------------------------------------


@router.get("/api/rounds/{round_id}/report", tags=["rounds"], responses=_errors)
async def report_api(round_id: RoundId, who: Caller, d: TheDesk) -> RoundReport:
    """The round at a glance (staff): per partner its state, categories met, missing or invalid in the latest
    version, announced, proposed and agreed rates, versions and time in review."""
    return await build_report(d, who, round_id)


@router.get(
    "/api/rounds/{round_id}/report.csv",
    tags=["rounds"],
    responses={**_errors, 200: {"content": {"text/csv": {}}, "description": "The report's matrix as CSV"}},
    response_class=Response,
)
async def report_csv_api(round_id: RoundId, who: Caller, d: TheDesk) -> Response:
    """The report's matrix as CSV (staff); time in review in seconds."""
    return _csv(await build_report(d, who, round_id))


@router.get(
    "/api/rounds/{round_id}/report.xlsx",
    tags=["rounds"],
    responses={**_errors, 200: {"content": {XLSX: {}}, "description": "The report's matrix as an Excel workbook"}},
    response_class=Response,
)
async def report_xlsx_api(round_id: RoundId, who: Caller, d: TheDesk) -> Response:
    """The report's matrix as an Excel workbook (staff)."""
    return await _xlsx(await build_report(d, who, round_id))


# ---- the page ------------------------------------------------------------------------------------


@router.get("/rounds/{round_id}/report", response_class=HTMLResponse, include_in_schema=False)
async def report_page(request: Request, round_id: str, who: Person, d: TheDesk) -> Response:
    report = await build_report(d, who, round_id)
    return render(
        request,
        "report.html",
        who,
        report=report,
        chart=Markup(rate_chart_svg(report)),  # built from escaped parts
        categories=list(Category),
        short_titles=SHORT_TITLES,
        titles=CATEGORY_TITLES,
    )


@router.get("/rounds/{round_id}/report.csv", include_in_schema=False)
async def report_csv_page(round_id: str, who: Person, d: TheDesk) -> Response:
    return _csv(await build_report(d, who, round_id))


@router.get("/rounds/{round_id}/report.xlsx", include_in_schema=False)
async def report_xlsx_page(round_id: str, who: Person, d: TheDesk) -> Response:
    return await _xlsx(await build_report(d, who, round_id))
