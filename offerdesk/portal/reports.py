"""The round at a glance, for staff: the matrix of partners against categories, its chart, and its exports.

The same report behind the page, the JSON API and the CSV and XLSX files, built by offers.report from the
offers' cards as visibility lists them (no worker needed).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from starlette.responses import Response

from offerdesk.portal.params import Caller, Person, RoundId, TheDesk
from offerdesk.portal.responses import API_REFUSALS, attachment
from offerdesk.portal.templating import render
from offers.report import rate_chart_svg, report_csv, report_xlsx
from offers.spreadsheets import XLSX_MEDIA_TYPE
from schemas.report import RoundReport
from schemas.validation import CATEGORY_TITLES, Category

router = APIRouter()

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


def _csv(report: RoundReport) -> Response:
    return attachment(report_csv(report), "text/csv; charset=utf-8", f"offerdesk-{report.round_id}-report.csv")


async def _xlsx(report: RoundReport) -> Response:
    content = await asyncio.to_thread(report_xlsx, report)
    return attachment(content, XLSX_MEDIA_TYPE, f"offerdesk-{report.round_id}-report.xlsx")


# ---- the API -------------------------------------------------------------------------------------


@router.get("/api/rounds/{round_id}/report", tags=["rounds"], responses=API_REFUSALS)
async def report_api(round_id: RoundId, who: Caller, d: TheDesk) -> RoundReport:
    """The round at a glance (staff): per partner its state, categories met, missing or invalid in the latest
    version, announced, proposed and agreed rates, versions and time in review."""
    return await d.report(who, round_id, "json")


@router.get(
    "/api/rounds/{round_id}/report.csv",
    tags=["rounds"],
    responses={**API_REFUSALS, 200: {"content": {"text/csv": {}}, "description": "The report's matrix as CSV"}},
    response_class=Response,
)
async def report_csv_api(round_id: RoundId, who: Caller, d: TheDesk) -> Response:
    """The report's matrix as CSV (staff); time in review in seconds."""
    return _csv(await d.report(who, round_id, "csv"))


@router.get(
    "/api/rounds/{round_id}/report.xlsx",
    tags=["rounds"],
    responses={
        **API_REFUSALS,
        200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "The report's matrix as an Excel workbook"},
    },
    response_class=Response,
)
async def report_xlsx_api(round_id: RoundId, who: Caller, d: TheDesk) -> Response:
    """The report's matrix as an Excel workbook (staff)."""
    return await _xlsx(await d.report(who, round_id, "xlsx"))


# ---- the page ------------------------------------------------------------------------------------


@router.get("/rounds/{round_id}/report", response_class=HTMLResponse, include_in_schema=False)
async def report_page(request: Request, round_id: str, who: Person, d: TheDesk) -> Response:
    report = await d.report(who, round_id, "page")
    return await render(
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
    return _csv(await d.report(who, round_id, "csv"))


@router.get("/rounds/{round_id}/report.xlsx", include_in_schema=False)
async def report_xlsx_page(round_id: str, who: Person, d: TheDesk) -> Response:
    return await _xlsx(await d.report(who, round_id, "xlsx"))
