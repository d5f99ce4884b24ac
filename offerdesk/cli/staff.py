"""`offerdesk staff`: staff decisions, as the operator."""

from __future__ import annotations

from typing import Annotated

import typer

from offerdesk.cli.common import as_operator, call, out
from offerdesk.cli.review import VersionOpt
from offerdesk.durations import parse_duration
from schemas.review import ExtendReview, RetryLetter, StaffDecision

staff_app = typer.Typer(
    help="Staff decisions as OFFERDESK_OPERATOR: extend review windows, decide escalations, retry letters.",
    no_args_is_help=True,
)


@staff_app.command("extend")
def staff_extend(
    round_id: str,
    partner: str,
    extend_by: Annotated[str, typer.Option("--extend", help="How much longer, e.g. 1d.")],
    reason: Annotated[str, typer.Option()] = "",
) -> None:
    """Extend an offer's review window as OFFERDESK_OPERATOR (also reopens an escalated offer for review)."""
    request = as_operator(lambda by: ExtendReview(by=by, extend_by=parse_duration(extend_by), reason=reason))
    answer = call(lambda e: e.extend_review(round_id, partner.upper(), request))
    assert answer.review_deadline is not None
    out.print(f"Review window now ends {answer.review_deadline.isoformat()}.")


@staff_app.command("decide")
def staff_decide(
    round_id: str,
    partner: str,
    decision: Annotated[str, typer.Option(help="approve or request_changes.")],
    reason: Annotated[str, typer.Option(help="Why; recorded and, for approvals, printed in the letter.")],
    version: VersionOpt,
    rate: Annotated[
        float | None, typer.Option(help="The reciprocal rate, 0-100; staff may go outside the reviewers' bounds.")
    ] = None,
) -> None:
    """Decide a version of an escalated offer as OFFERDESK_OPERATOR.

    Refused if the operator submitted any version of it, or if the partner sent a later version than the one decided.
    """
    kind = decision.replace("-", "_")
    request = as_operator(lambda by: StaffDecision(by=by, version=version, decision=kind, rate_pct=rate, reason=reason))
    answer = call(lambda e: e.decide(round_id, partner.upper(), request))
    out.print(f"Decided version {version}: {answer.state.value}.", highlight=False)


@staff_app.command("retry-letter")
def staff_retry_letter(
    round_id: str,
    partner: str,
    reason: Annotated[str, typer.Option(help="What was fixed.")] = "",
) -> None:
    """Render and store a letter again after it failed (LETTER_FAILED), once its cause is fixed; as the operator."""
    request = as_operator(lambda by: RetryLetter(by=by, reason=reason))
    answer = call(lambda e: e.retry_letter(round_id, partner.upper(), request))
    out.print(f"The letter is being rendered again: {answer.state.value}. 'offerdesk letter download' waits for it.")
