"""`offerdesk round report`: the round at a glance, as a table, JSON, or a CSV or Excel file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from offerdesk.cli.common import JsonOpt, call, err, fail, out, print_json, write_output
from offerdesk.cli.round import round_app
from offerdesk.durations import format_duration
from offerdesk.engine import Engine
from offers.reference import load_partners, load_policy
from offers.report import report_csv, report_xlsx, round_report
from schemas.listing import OfferListing
from schemas.offer_state import OfferCard
from schemas.report import RoundReport
from schemas.round import RoundStatus
from schemas.validation import Category, CategoryStatus

MARKS = {
    CategoryStatus.MET: "[green]met[/]",
    CategoryStatus.MISSING: "[red]missing[/]",
    CategoryStatus.INVALID: "[red]invalid[/]",
}


@round_app.command("report")
def report(
    round_id: str,
    as_json: JsonOpt = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the matrix to FILE.xlsx (or FILE.csv).")
    ] = None,
) -> None:
    """The round at a glance: categories met, rates, versions and time in review, per partner."""
    if output is not None and output.suffix.lower() not in (".xlsx", ".csv"):
        raise fail(f"{output}: write the report to a .xlsx or a .csv file", 2)

    async def work(e: Engine) -> tuple[RoundStatus, list[tuple[OfferListing, OfferCard | None]]]:
        return await e.round_status(round_id), await e.round_cards(round_id)

    status, cards = call(work)
    made = round_report(
        status, cards, load_partners(), as_of=datetime.now(UTC), baseline_rate_pct=load_policy().baseline_rate_pct
    )
    if output is not None:
        content = report_xlsx(made) if output.suffix.lower() == ".xlsx" else report_csv(made).encode()
        write_output(output, content)
        err.print(f"Wrote the report of round {round_id} ({len(made.rows)} partners) to {output}", highlight=False)
    if as_json:
        print_json(made)
    elif output is None:
        out.print(_table(made))


def _table(made: RoundReport) -> Table:
    table = Table(
        title=f"Round {made.round_id} at a glance, {made.as_of:%Y-%m-%d %H:%M} UTC: {made.accepted} accepted, "
        f"{made.countered} countered, {made.unanswered} unanswered",
        caption=made.time_in_review_defined_as,
    )
    for column in ("partner", "state", *(c.value.replace("_", " ") for c in Category)):
        table.add_column(column)
    for column in ("announced", "proposed", "agreed", "deal", "versions", "letters"):
        table.add_column(column, justify="right")
    table.add_column("time in review")
    for row in made.rows:
        in_review = ""
        if row.time_in_review is not None:
            in_review = format_duration(row.time_in_review) + (" so far" if row.in_review_ongoing else "")
        table.add_row(
            row.partner,
            row.state,
            *(MARKS[row.categories[c]] if c in row.categories else "" for c in Category),
            *(
                f"{v:g}%" if v is not None else ""
                for v in (row.announced_rate_pct, row.proposed_rate_pct, row.agreed_rate_pct, row.deal_rate_pct)
            ),
            str(row.versions),
            f"{row.letters}{' (countered)' if row.countered else ''}",
            in_review,
        )
    return table
