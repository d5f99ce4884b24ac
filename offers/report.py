"""The round at a glance: the matrix of partners against categories, its chart (SVG) and its exports.

Pure functions of the round and its offers' cards, as visibility lists them: no Temporal, no store, no clock
unless none is given.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from offers.csvfile import Cell, csv_text, formula_safe
from schemas.listing import OfferListing
from schemas.offer_state import OfferCard, OfferState
from schemas.partner import PartnerReference
from schemas.report import CategoryTally, PartnerRow, RoundReport
from schemas.round import RoundStatus
from schemas.validation import Category, CategoryStatus

AGREED_STATES = frozenset(
    {
        OfferState.APPROVED,
        OfferState.LETTER_ISSUED,
        OfferState.LETTER_FAILED,
        OfferState.ACCEPTED,
        OfferState.UNANSWERED,
    }
)
"""States with agreed terms: time in review stops when the latest were agreed."""
OPEN_STATES = frozenset({OfferState.VALIDATING, OfferState.DEFICIENT, OfferState.UNDER_REVIEW, OfferState.ESCALATED})
"""States after a first version where the clock still runs."""


def round_report(
    status: RoundStatus,
    cards: Sequence[tuple[OfferListing, OfferCard | None]],
    partners: Mapping[str, PartnerReference],
    *,
    as_of: datetime | None = None,
    baseline_rate_pct: float = 10.0,
) -> RoundReport:
    """One row per invited partner, in the round's order; a partner not yet in visibility is INVITED."""
    now = as_of or datetime.now(UTC)
    listed = {listing.partner: (listing, card) for listing, card in cards}
    rows = [_row(code, listed.get(code), partners.get(code), now) for code in status.partners]
    tallies = {category: CategoryTally() for category in Category}
    for row in rows:
        for category, category_status in row.categories.items():
            tally = tallies[category]
            setattr(tally, category_status.value, getattr(tally, category_status.value) + 1)
    return RoundReport(
        accepted=sum(row.deal_rate_pct is not None for row in rows),
        countered=sum(row.countered for row in rows),
        unanswered=sum(row.state == OfferState.UNANSWERED for row in rows),
        round_id=status.round_id,
        deadline=status.deadline,
        review_window=status.review_window,
        as_of=now,
        baseline_rate_pct=baseline_rate_pct,
        rows=rows,
        states=dict(Counter(row.state for row in rows)),
        categories=tallies,
    )


def _whole_seconds(span: timedelta | None) -> timedelta | None:
    """A time in review to the second: people read days and hours, and an ISO 8601 duration with a fraction of a
    second ("PT1M0.69S") is not the RFC 3339 duration the API's schema promises."""
    return None if span is None else timedelta(seconds=round(span.total_seconds()))


def _row(
    code: str,
    found: tuple[OfferListing, OfferCard | None] | None,
    reference: PartnerReference | None,
    now: datetime,
) -> PartnerRow:
    listing, card = found if found is not None else (None, None)
    state = (listing.state if listing else "") or (card.state.value if card else "") or OfferState.INVITED.value
    versions = card.versions if card else []
    summary = versions[-1].report if versions else None
    if summary is None and card is not None and state != OfferState.VALIDATING:
        summary = card.report  # offers that kept the report on the card only
    zone = card.landing_zone if card else None
    terms = card.terms if card else None
    if zone is None and terms is not None:
        zone = terms.landing_zone
    announced = zone.announced_rate_pct if zone else (reference.announced_rate_pct if reference else None)
    first = versions[0].received_at if versions else None
    in_review: timedelta | None = None
    ongoing = False
    if first is not None and state in AGREED_STATES and terms is not None:
        in_review = max(terms.agreed_at - first, timedelta(0))
    elif first is not None and state in OPEN_STATES:
        in_review, ongoing = max(now - first, timedelta(0)), True
    letters = card.numbered_letters() if card else []
    return PartnerRow(
        letters=len(letters),
        countered=bool(letters) and any(v.number > letters[0].version for v in versions),
        deal_rate_pct=card.deal.rate_pct if card and card.deal else None,
        partner=code,
        partner_name=(card.partner_name if card else "") or (reference.name if reference else code),
        state=state,
        categories=dict(summary.categories) if summary else {},
        announced_rate_pct=announced,
        proposed_rate_pct=zone.proposed_rate_pct if zone else None,
        agreed_rate_pct=terms.agreed_rate_pct if terms else None,
        versions=len(versions),
        first_received_at=first,
        time_in_review=_whole_seconds(in_review),
        in_review_ongoing=ongoing,
    )


# ---- the chart -----------------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 460
LEFT, RIGHT, TOP = 64, 24, 20
PLOT_BOTTOM = 350
"""The y of the plot's 0% line; below it, a strip for partners with no proposal yet."""
PENDING_Y = 378
LABELS_UP_TO = 40
"""Marks carry their partner's code as a label up to this many partners; beyond, only a tooltip."""
COLOURS = {"deal": "#6b2d8f", "agreed": "#1d6b36", "proposed": "#1f4e79", "pending": "#8a939e"}


def rate_chart_svg(report: RoundReport) -> str:
    """Announced rate (x) against the deal, else the agreed, else the proposed rate (y): one mark per partner.

    A deal (a letter the partner accepted) is marked apart: a larger mark in its own colour, ringed.
    Partners with no proposal yet sit on a strip under the plot at their announced rate. The diagonal is
    "no change from the announced rate", the dashed line the baseline. Colours are presentation attributes,
    so the SVG stands alone (and the portal's CSP, which forbids style attributes, lets it through).
    """
    values = [v for r in report.rows for v in (r.announced_rate_pct, r.charted_rate_pct) if v is not None]
    top = max(50.0, math.ceil(max(values, default=0.0) / 10) * 10)
    right = WIDTH - RIGHT

    def x(rate: float) -> float:
        return LEFT + (right - LEFT) * rate / top

    def y(rate: float) -> float:
        return PLOT_BOTTOM - (PLOT_BOTTOM - TOP) * rate / top

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="rate-chart" class="rate-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="rate-chart-title rate-chart-desc" '
        'font-family="system-ui, DejaVu Sans, sans-serif" font-size="12">',
        f'<title id="rate-chart-title">Round {escape(report.round_id)}: announced against agreed or proposed '
        "rate</title>",
        f'<desc id="rate-chart-desc">{_describe(report)}</desc>',
        '<g class="grid" stroke="#d8dde3" stroke-width="1" fill="#5b6470">',
    ]
    for tick in range(0, int(top) + 1, 10):
        out.append(f'<line x1="{x(tick):.1f}" y1="{TOP}" x2="{x(tick):.1f}" y2="{PLOT_BOTTOM}"/>')
        out.append(f'<line x1="{LEFT}" y1="{y(tick):.1f}" x2="{right}" y2="{y(tick):.1f}"/>')
        out.append(f'<text x="{x(tick):.1f}" y="{PENDING_Y + 26}" text-anchor="middle" stroke="none">{tick}%</text>')
        out.append(f'<text x="{LEFT - 8}" y="{y(tick) + 4:.1f}" text-anchor="end" stroke="none">{tick}%</text>')
    out.append("</g>")
    out.append(
        f'<line class="diagonal" x1="{x(0):.1f}" y1="{y(0):.1f}" x2="{x(top):.1f}" y2="{y(top):.1f}" '
        'stroke="#5b6470" stroke-width="1"/>'
    )
    base = report.baseline_rate_pct
    out.append(
        f'<line class="baseline" x1="{LEFT}" y1="{y(base):.1f}" x2="{right}" y2="{y(base):.1f}" '
        'stroke="#8a5a00" stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    out.append(
        f'<text class="baseline-label" x="{right - 4}" y="{y(base) - 5:.1f}" text-anchor="end" fill="#8a5a00">'
        f"{base:g}% baseline</text>"
    )
    out.append(
        f'<text x="{right - 4}" y="{y(top) + 14:.1f}" text-anchor="end" fill="#5b6470">no change from announced</text>'
    )
    out.append(
        f'<line x1="{LEFT}" y1="{PENDING_Y - 14}" x2="{right}" y2="{PENDING_Y - 14}" stroke="#d8dde3"/>'
        f'<text x="{LEFT + 4}" y="{PENDING_Y + 12}" fill="#5b6470" font-size="11">no proposal yet</text>'
    )
    out.append(
        f'<text x="{(LEFT + right) / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle" fill="#1b1f24">'
        "announced rate (April 2025)</text>"
        f'<text transform="translate(16 {(TOP + PLOT_BOTTOM) / 2:.1f}) rotate(-90)" text-anchor="middle" '
        'fill="#1b1f24">agreed rate, or else proposed</text>'
    )
    out.extend(_legend())
    label = len(report.rows) <= LABELS_UP_TO
    out.append('<g class="marks">')
    for row in report.rows:
        out.extend(_mark(row, x, y, label))
    out.append("</g></svg>")
    return "\n".join(out)


def _mark(row: PartnerRow, x: Callable[[float], float], y: Callable[[float], float], label: bool) -> list[str]:
    announced, charted = row.announced_rate_pct, row.charted_rate_pct
    if row.deal_rate_pct is not None:
        kind = "deal"
    elif row.agreed_rate_pct is not None:
        kind = "agreed"
    else:
        kind = "proposed" if charted is not None else "pending"
    cx = x(announced if announced is not None else 0.0)
    cy = y(charted) if charted is not None else PENDING_Y
    colour = COLOURS[kind]
    fill = "#fff" if kind == "proposed" else colour
    named = "the deal" if kind == "deal" else kind
    what = f"{named} {charted:g}%" if charted is not None else "no proposal yet"
    letters = f", {row.letters} letters" if row.letters > 1 else ""
    tip = f"{row.partner} {row.partner_name}: announced {_pct(announced)}, {what} ({row.state}{letters})"
    parts = []
    if kind == "deal":  # a ring around the mark: the deal reads apart from agreed terms without colour too
        parts.append(
            f'<circle class="deal-ring" cx="{cx:.1f}" cy="{cy:.1f}" r="9" fill="none" stroke="{colour}" '
            'stroke-width="1.5"/>'
        )
    parts.append(
        f'<circle class="mark {kind}" data-partner="{escape(row.partner)}" cx="{cx:.1f}" cy="{cy:.1f}" '
        f'r="{6 if kind == "deal" else 5}" fill="{fill}" stroke="{colour}" stroke-width="2">'
        f"<title>{escape(tip)}</title></circle>"
    )
    if label:
        parts.append(
            f'<text class="mark-label" x="{cx + 8:.1f}" y="{cy + 4:.1f}" fill="{colour}" font-size="11">'
            f"{escape(row.partner)}</text>"
        )
    return parts


def _legend() -> list[str]:
    out = ['<g class="legend" font-size="11">']
    kinds = (
        ("deal", "the deal (accepted)"),
        ("agreed", "agreed"),
        ("proposed", "proposed"),
        ("pending", "no proposal"),
    )
    for i, (kind, text) in enumerate(kinds):
        cy = TOP + 12 + i * 16
        colour = COLOURS[kind]
        fill = "#fff" if kind == "proposed" else colour
        ring = (
            f'<circle cx="{LEFT + 14}" cy="{cy}" r="7" fill="none" stroke="{colour}" stroke-width="1.5"/>'
            if kind == "deal"
            else ""
        )
        out.append(
            f'{ring}<circle cx="{LEFT + 14}" cy="{cy}" r="4" fill="{fill}" stroke="{colour}" stroke-width="2"/>'
            f'<text x="{LEFT + 24}" y="{cy + 4}" fill="#1b1f24">{text}</text>'
        )
    out.append("</g>")
    return out


def _describe(report: RoundReport) -> str:
    deals = sum(r.deal_rate_pct is not None for r in report.rows)
    agreed = sum(r.deal_rate_pct is None and r.agreed_rate_pct is not None for r in report.rows)
    proposed = sum(r.agreed_rate_pct is None and r.proposed_rate_pct is not None for r in report.rows)
    pending = len(report.rows) - deals - agreed - proposed
    return escape(
        f"{len(report.rows)} partners: {deals} with a deal (a letter accepted), {agreed} with an agreed rate, "
        f"{proposed} with a proposed rate only, {pending} with no proposal yet. A mark below the diagonal is a "
        "rate below the announced one."
    )


def _pct(value: float | None) -> str:
    return f"{value:g}%" if value is not None else "unknown"


# ---- exports --------------------------------------------------------------------------------------

HEADER = [
    "partner",
    "name",
    "state",
    *[c.value for c in Category],
    "met",
    "missing",
    "invalid",
    "announced_rate_pct",
    "proposed_rate_pct",
    "agreed_rate_pct",
    "versions",
    "first_received_at_utc",
    "time_in_review",
    "time_in_review_ongoing",
    "letters",
    "countered",
    "accepted",
    "deal_rate_pct",
]
"""The columns of both exports: the round's counts of accepted, countered and unanswered offers are the rows with
accepted or countered "yes" and state UNANSWERED (the .xlsx's About sheet states them too)."""


def report_table(report: RoundReport) -> list[list[Any]]:
    """The matrix as rows of plain values (header first): times in UTC, time in review a timedelta; names that a
    spreadsheet would take for a formula start with an apostrophe (offers.csvfile.formula_safe), for the .xlsx."""
    table: list[list[Any]] = [list(HEADER)]
    for row in report.rows:
        first = row.first_received_at.astimezone(UTC).replace(tzinfo=None) if row.first_received_at else None
        table.append(
            [
                formula_safe(row.partner),
                formula_safe(row.partner_name),
                row.state,
                *[row.categories[c].value if c in row.categories else "" for c in Category],
                row.count(CategoryStatus.MET),
                row.count(CategoryStatus.MISSING),
                row.count(CategoryStatus.INVALID),
                row.announced_rate_pct,
                row.proposed_rate_pct,
                row.agreed_rate_pct,
                row.versions,
                first,
                row.time_in_review,
                row.in_review_ongoing if row.time_in_review is not None else None,
                row.letters,
                row.countered,
                row.deal_rate_pct is not None,
                row.deal_rate_pct,
            ]
        )
    return table


def report_csv(report: RoundReport) -> str:
    """The matrix as CSV (offers.csvfile's dialect): empty cells where nothing is known; time in review in whole
    seconds; times in UTC, ISO 8601 with a Z."""
    return csv_text([_csv_value(v) for v in values] for values in report_table(report))


def _csv_value(value: Any) -> Cell:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds") + "Z"
    if isinstance(value, int | float):
        return value
    return str(value)


def report_xlsx(report: RoundReport) -> bytes:
    """The matrix as an Excel workbook: sheet "Report", and "About" with the round and the definitions."""
    from openpyxl import Workbook  # type: ignore[import-untyped, unused-ignore]
    from openpyxl.styles import Font  # type: ignore[import-untyped, unused-ignore]

    book = Workbook()
    sheet = book.active
    sheet.title = "Report"
    for values in report_table(report):
        sheet.append(values)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    time_column = HEADER.index("time_in_review") + 1
    when_column = HEADER.index("first_received_at_utc") + 1
    for (time_cell,) in sheet.iter_rows(min_row=2, min_col=time_column, max_col=time_column):
        time_cell.number_format = "[h]:mm:ss"
    for (when_cell,) in sheet.iter_rows(min_row=2, min_col=when_column, max_col=when_column):
        when_cell.number_format = "yyyy-mm-dd hh:mm:ss"
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = sheet.dimensions
    for column, name in enumerate(HEADER, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=column).column_letter].width = max(10, len(name) + 2)
    about = book.create_sheet("About")
    as_of = report.as_of.astimezone(UTC).replace(tzinfo=None)
    for values in (
        ["round", report.round_id],
        ["submissions close (UTC)", report.deadline.astimezone(UTC).replace(tzinfo=None)],
        ["report made (UTC)", as_of],
        ["time in review", report.time_in_review_defined_as],
        ["categories", "met, missing or invalid in each partner's latest version, as validation found it"],
        ["rates", "percent; agreed once reviewers reached their quorum, proposed by the landing-zone policy"],
        ["letters", "letters issued to the partner: one more for each counter-offer answered; all are kept"],
        ["countered", "whether the partner answered a letter with a counter-offer (a new version)"],
        ["accepted", "whether the partner accepted a letter: its terms are the deal"],
        ["deal_rate_pct", "the rate of the letter the partner accepted: the deal"],
        ["accepted / countered / unanswered", f"{report.accepted} / {report.countered} / {report.unanswered}"],
    ):
        about.append(values)
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 100
    book.properties.creator = "Offerdesk"
    book.properties.created = as_of
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
