"""`offerdesk review`: reviewers' decisions, as the operator."""

from __future__ import annotations

from typing import Annotated

import typer

from offerdesk.cli.common import call, operator, out, parse_input
from schemas.review import Approve, Comment, RequestChanges

review_app = typer.Typer(
    help="Reviewers' decisions on offers under review, as OFFERDESK_OPERATOR (default: your OS user name).",
    no_args_is_help=True,
)


# ---- review and staff: the operator (OFFERDESK_OPERATOR, or the OS user name) acts ---------------


@review_app.command("approve")
def review_approve(
    round_id: str,
    partner: str,
    rate: Annotated[float | None, typer.Option(help="Adjusted reciprocal rate in percent.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why the rate was adjusted.")] = None,
) -> None:
    """Approve an offer under review as OFFERDESK_OPERATOR, optionally adjusting the reciprocal rate.

    Refused if the operator submitted any version of the offer.
    """
    reviewer = operator()
    request = parse_input(lambda: Approve(reviewer=reviewer, rate_pct=rate, reason=reason))
    answer = call(lambda e: e.approve(round_id, partner.upper(), request))
    out.print(
        f"Approved by {reviewer}: {answer.approvals}/{answer.approvals_required} approvals; {answer.state.value}."
    )


@review_app.command("request-changes")
def review_request_changes(
    round_id: str,
    partner: str,
    note: Annotated[str, typer.Option(help="What the negotiator should change.")],
) -> None:
    """Send an offer back to its negotiator with notes, as OFFERDESK_OPERATOR (not one who submitted it)."""
    reviewer = operator()
    request = parse_input(lambda: RequestChanges(reviewer=reviewer, note=note))
    answer = call(lambda e: e.request_changes(round_id, partner.upper(), request))
    out.print(f"Sent back to the negotiator; they may amend until {answer.amend_until.isoformat()}.")


@review_app.command("comment")
def review_comment(
    round_id: str,
    partner: str,
    text: Annotated[str, typer.Option(help="The comment.")],
) -> None:
    """Leave a comment on an offer as OFFERDESK_OPERATOR, recorded in its audit trail."""
    reviewer = operator()
    request = parse_input(lambda: Comment(reviewer=reviewer, text=text))
    call(lambda e: e.comment(round_id, partner.upper(), request))
    out.print("Comment recorded.")
