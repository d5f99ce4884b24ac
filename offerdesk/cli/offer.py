"""`offerdesk offer`: submit, amend, withdraw and read offers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from offerdesk.cli.common import JsonOpt, as_operator, call, operator, out, parse_input, print_json
from offers.documents import load_offer
from schemas.offer_state import OfferState, OfferStatus, SubmissionResult
from schemas.review import Withdraw

offer_app = typer.Typer(help="Submit, amend, withdraw and read offers.", no_args_is_help=True)


# ---- offers -----------------------------------------------------------------------------------


SHOWN_FINDINGS = 50


def _print_findings(findings: list[Any], shown: int = SHOWN_FINDINGS) -> None:
    for f in findings[:shown]:
        colour = "red" if f.severity.value == "error" else "yellow"
        out.print(f"  [{colour}]{f.severity.value}[/] {f.path}: {f.message}", highlight=False)
    if len(findings) > shown:
        out.print(f"  ... and {len(findings) - shown:,} more; 'offer show --json' lists them all", highlight=False)


def _print_receipt(receipt: SubmissionResult, as_json: bool) -> None:
    if as_json:
        print_json(receipt)
        return
    verb = "was already received as" if receipt.duplicate else "accepted as"
    out.print(
        f"{receipt.partner}'s offer in round {receipt.round_id} {verb} version {receipt.version}: {receipt.state.value}"
    )
    if receipt.report:
        _print_findings(receipt.report.errors + receipt.report.warnings)


@offer_app.command("submit")
def offer_submit(file: Path, as_json: JsonOpt = False) -> None:
    """Submit an offer document (JSON, schema version 1, or an .xlsx from 'offer template') as OFFERDESK_OPERATOR.

    The offer records the operator as its submitter, who then may not review or decide it; the document's
    submitted_by is the partner's contact, shown in the audit trail.
    """
    document = parse_input(lambda: load_offer(file))
    by = operator()
    _print_receipt(call(lambda e: e.submit(document, by=by)), as_json)


@offer_app.command("amend")
def offer_amend(file: Path, as_json: JsonOpt = False) -> None:
    """Replace a submitted offer with a changed document, as OFFERDESK_OPERATOR."""
    document = parse_input(lambda: load_offer(file))
    by = operator()
    _print_receipt(call(lambda e: e.submit(document, amend=True, by=by)), as_json)


@offer_app.command("withdraw")
def offer_withdraw(
    round_id: str,
    partner: str,
    reason: Annotated[str, typer.Option()] = "",
) -> None:
    """Withdraw a partner's offer from the round, as OFFERDESK_OPERATOR."""
    request = as_operator(lambda by: Withdraw(by=by, reason=reason))
    answer = call(lambda e: e.withdraw(round_id, partner.upper(), request))
    out.print(f"{answer.partner}'s offer in round {round_id} is {answer.state.value}.")


def _print_status(s: OfferStatus) -> None:
    out.print(f"[bold]{s.partner_name} ({s.partner})[/], round {s.round_id}: [bold]{s.state.value}[/]")
    if s.closed:
        when = s.closed.at.isoformat() if s.closed.at else "at an unknown time"
        out.print(
            f"  Temporal reports the offer's workflow {s.closed.status} {when}: {s.closed.reason}", highlight=False
        )
    latest = s.versions[-1].submitted_by if s.versions else None
    sent = f" (the latest sent by {latest})" if latest else ""
    out.print(f"  submissions close {s.deadline.isoformat()}; versions received: {len(s.versions)}{sent}")
    if s.review_deadline:
        out.print(
            f"  review window ends {s.review_deadline.isoformat()}; approvals {len(s.approvals)}/{s.approvals_required}"
        )
    if s.report:
        out.print("  categories: " + ", ".join(f"{c.value}={v.value}" for c, v in s.report.categories.items()))
        _print_findings(s.report.errors + s.report.warnings)
    if s.changes_requested:
        out.print(f"  changes requested: {' '.join(s.changes_requested)}")
    if s.landing_zone:
        z = s.landing_zone
        out.print(
            f"  landing zone: proposed {z.proposed_rate_pct:g}% "
            f"(announced {z.announced_rate_pct:g}%, score {z.score:.2f})"
        )
    if s.terms:
        out.print(f"  agreed rate {s.terms.agreed_rate_pct:g}%, set by {s.terms.rate_set_by}")
    _print_letters(s)
    if s.letter_failure:
        out.print(
            f"  [red]the letter failed:[/] {s.letter_failure}. Once the cause is fixed, staff retry it with "
            f"'offerdesk staff retry-letter {s.round_id} {s.partner}'",
            highlight=False,
        )
    for note in s.notes:
        out.print(f"  [yellow]note:[/] {note}", highlight=False)


def _print_letters(s: OfferStatus) -> None:
    """Every letter, the answer it awaits or got, and a counter-offer beside the terms of the letter it answers."""
    letters = s.numbered_letters()
    for x in letters:
        rate = f", {x.terms.agreed_rate_pct:g}%" if x.terms else ""
        out.print(
            f"  letter {x.number} (answering version {x.version}{rate}): {x.ref.filename}, {x.ref.pages} pages, "
            f"sha256 {x.ref.sha256}",
            highlight=False,
        )
    if s.awaits_answer and s.respond_by is not None:
        out.print(
            f"  letter {len(letters)} awaits the partner's answer until {s.respond_by.isoformat()}: "
            f"'offerdesk offer accept {s.round_id} {s.partner}', or a counter-offer with 'offer amend'",
            highlight=False,
        )
    if s.deal is not None:
        d = s.deal
        whose = f", for the partner: {d.reason}" if d.on_behalf else ""
        out.print(
            f"  [bold]the deal:[/] letter {d.letter} (version {d.version}) at {d.rate_pct:g}%, accepted by "
            f"{d.accepted_by} {d.accepted_at.isoformat()}{whose}",
            highlight=False,
        )
    if s.state is OfferState.UNANSWERED and s.respond_by is not None:
        closed = f"; closed by {s.closing.by}" if s.closing is not None else "; staff may reopen or close it"
        out.print(f"  letter {len(letters)} was not answered by {s.respond_by.isoformat()}{closed}", highlight=False)
    answered = s.counter_offer()
    if answered is not None and answered.terms is not None:
        proposed = f"proposed {s.landing_zone.proposed_rate_pct:g}%" if s.landing_zone else "no proposal yet"
        out.print(
            f"  counter-offer: version {s.versions[-1].number} answers letter {answered.number} "
            f"({answered.terms.agreed_rate_pct:g}% for version {answered.version}); the new proposal: {proposed}. "
            f"'offer diff {s.round_id} {s.partner}' compares it with version {answered.version}",
            highlight=False,
        )


@offer_app.command("show")
def offer_show(round_id: str, partner: str, as_json: JsonOpt = False) -> None:
    """An offer's state, findings, landing zone, approvals and letter."""
    status = call(lambda e: e.offer_status(round_id, partner.upper()))
    if as_json:
        print_json(status)
    else:
        _print_status(status)
