"""`offerdesk review`: reviewers' decisions, as the operator."""

from __future__ import annotations

from typing import Annotated

import typer

from offerdesk.cli.common import as_operator, call, out
from schemas.review import Approve, Comment, RequestChanges

VersionOpt = Annotated[
    int,
    typer.Option(
        "--version",
        min=1,
        help="The version you read ('offer show' lists them): required, so that a decision counts only for what "
        "was read; refused if the partner has sent a later one since.",
    ),
]


review_app = typer.Typer(
    help="Reviewers' decisions on offers under review, as OFFERDESK_OPERATOR (default: your OS user name).",
    no_args_is_help=True,
)


# ---- review and staff: the operator (OFFERDESK_OPERATOR, or the OS user name) acts ---------------


@review_app.command("approve")
def review_approve(
    round_id: str,
    partner: str,
    version: VersionOpt,
    rate: Annotated[float | None, typer.Option(help="Adjusted reciprocal rate in percent.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why the rate was adjusted.")] = None,
) -> None:
    """Approve a version of an offer under review as OFFERDESK_OPERATOR, optionally adjusting the reciprocal rate.

    Refused if the operator submitted any version of the offer, or if the partner sent a later version than the
    one approved.
    """
    request = as_operator(lambda reviewer: Approve(reviewer=reviewer, version=version, rate_pct=rate, reason=reason))
    answer = call(lambda e: e.approve(round_id, partner.upper(), request))
    out.print(
        f"Approved version {version} of {answer.partner} in round {answer.round_id} as {request.reviewer}: "
        f"{answer.approvals}/{answer.approvals_required} approvals; {answer.state.value}.",
        highlight=False,
    )


@review_app.command("request-changes")
def review_request_changes(
    round_id: str,
    partner: str,
    note: Annotated[str, typer.Option(help="What the negotiator should change.")],
    version: VersionOpt,
) -> None:
    """Send a version of an offer back to its negotiator with notes, as OFFERDESK_OPERATOR (not one who submitted it).

    Refused if the partner sent a later version than the one sent back.
    """
    request = as_operator(lambda reviewer: RequestChanges(reviewer=reviewer, version=version, note=note))
    answer = call(lambda e: e.request_changes(round_id, partner.upper(), request))
    out.print(
        f"Sent version {version} back to the negotiator; they may amend until {answer.amend_until.isoformat()}.",
        highlight=False,
    )


@review_app.command("comment")
def review_comment(
    round_id: str,
    partner: str,
    text: Annotated[str, typer.Option(help="The comment.")],
) -> None:
    """Leave a comment on an offer as OFFERDESK_OPERATOR, recorded in its audit trail."""
    request = as_operator(lambda reviewer: Comment(reviewer=reviewer, text=text))
    call(lambda e: e.comment(round_id, partner.upper(), request))
    out.print("Comment recorded.")
