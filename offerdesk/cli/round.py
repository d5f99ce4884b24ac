"""`offerdesk round`: open rounds and follow them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from offerdesk.cli.common import JsonOpt, call, out, parse_input, print_json
from offerdesk.cli.tables import print_table
from offerdesk.durations import format_duration, parse_deadline, parse_duration
from offerdesk.engine import Engine
from offers.reference import partner_references
from schemas.listing import OfferListing
from schemas.offer_state import OfferState
from schemas.round import RoundSpec

round_app = typer.Typer(help="Open rounds and follow them.", no_args_is_help=True)


# ---- rounds -----------------------------------------------------------------------------------


@round_app.command("open")
def round_open(
    round_id: str,
    deadline: Annotated[
        str, typer.Option(help="ISO time with zone (2026-12-02T17:00:00+01:00), or a duration from now (2h).")
    ],
    partner: Annotated[list[str], typer.Option(help="A partner code (JP, EU, ...); repeat for each partner.")],
    review_window: Annotated[str, typer.Option(help="How long reviewers have, e.g. 3d, 12h, 90s.")] = "3d",
    approvals: Annotated[int, typer.Option(help="Distinct reviewer approvals an offer needs.")] = 2,
    remind_before: Annotated[
        str,
        typer.Option(
            help="Remind whoever an offer waits on this long before submissions close and before each review "
            "window closes, e.g. 24h; 0 for no reminders."
        ),
    ] = "24h",
    respond_within: Annotated[
        str,
        typer.Option(
            "--respond-within",
            help="How long a partner has to answer each letter (accept it, or counter it), e.g. 7d.",
        ),
    ] = "7d",
    by: Annotated[str, typer.Option(help="Who opens the round.")] = "staff",
    as_json: JsonOpt = False,
) -> None:
    """Open a round and invite partners: each partner's offer workflow starts now."""
    spec = parse_input(
        lambda: RoundSpec(
            round_id=round_id,
            partners=partner_references([p.strip().upper() for p in partner]),
            deadline=parse_deadline(deadline, datetime.now(UTC)),
            review_window=parse_duration(review_window),
            approvals_required=approvals,
            opened_by=by,
            remind_before=timedelta(0) if remind_before.strip() in ("0", "off") else parse_duration(remind_before),
            respond_within=parse_duration(respond_within),
        )
    )
    status = call(lambda e: e.open_round(spec))
    if as_json:
        print_json(status)
    else:
        out.print(
            f"Round [bold]{round_id}[/] is open for {', '.join(status.partners)} until {status.deadline.isoformat()}; "
            f"review window {format_duration(status.review_window)}, {status.approvals_required} approvals; "
            f"letters answered within {format_duration(status.respond_within)}; "
            + (
                f"reminders {format_duration(status.remind_before)} before each deadline."
                if status.remind_before
                else "no reminders."
            )
        )


@round_app.command("status")
def round_status(round_id: str, as_json: JsonOpt = False) -> None:
    """Every invited partner's state, from Temporal visibility."""

    async def work(e: Engine) -> tuple[Any, Any]:
        # Both at once: the round's record and the visibility listing are independent reads.
        return await asyncio.gather(e.round_status(round_id), e.list_offers(round_id=round_id))

    status, listings = call(work)
    if as_json:
        print_json({"round": status.model_dump(mode="json"), "offers": [x.model_dump(mode="json") for x in listings]})
        return
    listed = {x.partner: x for x in listings}
    rows: list[tuple[str, str, str, str]] = []
    for code in status.partners:
        x = listed.get(code)
        if x is None:  # visibility lags the round by a second or so
            rows.append((code, "INVITED", "", ""))
            continue
        note = listing_note(x)
        rows.append((x.partner, x.state, x.review_deadline.isoformat() if x.review_deadline else "", note))
    title = f"Round {round_id}: submissions close {status.deadline.isoformat()}"
    print_table(out, ("partner", "state", "review deadline", "note"), rows, title)


def listing_note(x: OfferListing) -> str:
    """What a round's table says beside an offer's state: its letters, the answer due, the deal, a failure."""
    if x.state == OfferState.LETTER_FAILED and x.letter_failure:
        return f"letter failed: {x.letter_failure}"
    if x.deal is not None:
        return f"deal: letter {x.deal.letter} at {x.deal.rate_pct:g}%"
    letters = f"{x.letters} letter{'s' if x.letters != 1 else ''}" if x.letters else ""
    if x.state == OfferState.LETTER_ISSUED and x.respond_by is not None:
        return f"{letters}; answer due {x.respond_by.isoformat(timespec='seconds')}"
    if x.state == OfferState.UNANSWERED and x.respond_by is not None:
        return f"{letters}; no answer by {x.respond_by.isoformat(timespec='seconds')}"
    return letters


@round_app.command("list")
def round_list(
    state: Annotated[
        OfferState | None, typer.Option(case_sensitive=False, help="Only offers in this state, e.g. UNDER_REVIEW.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Offers in every round, from Temporal visibility."""
    listings = call(lambda e: e.list_offers(state=state))
    if as_json:
        print_json([x.model_dump(mode="json") for x in listings])
        return
    rows = [
        (x.round_id, x.partner, x.state, x.review_deadline.isoformat() if x.review_deadline else "") for x in listings
    ]
    print_table(out, ("round", "partner", "state", "review deadline"), rows)
