"""`offerdesk review`: reviewers' decisions, as the operator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from offerdesk.cli.common import as_operator, call, out
from offerdesk.engine import Engine
from schemas.offer_state import OfferAnswer
from schemas.review import Approve, Comment, Decision, RequestChanges

VersionOpt = Annotated[
    int | None,
    typer.Option(
        "--version",
        min=1,
        help="The version you read ('offer show' lists them); refused if the partner has sent a later one since. "
        "Default: the offer's latest version, read just before deciding.",
    ),
]

review_app = typer.Typer(
    help="Reviewers' decisions on offers under review, as OFFERDESK_OPERATOR (default: your OS user name).",
    no_args_is_help=True,
)


# ---- review and staff: the operator (OFFERDESK_OPERATOR, or the OS user name) acts ---------------


D = TypeVar("D", bound=Decision)


async def on_version(
    engine: Engine,
    round_id: str,
    partner: str,
    request: D,
    send: Callable[[Engine, str, str, D], Awaitable[OfferAnswer]],
) -> tuple[D, OfferAnswer]:
    """Send a decision made on the version it names; with none named, on the offer's latest version, read first.

    The decision and its answer come back with the version it was made on, so that the command can print it. A
    version the partner has replaced by the time the decision arrives is refused by the offer (StaleVersion).
    """
    if request.version is None:
        card, _ = await engine.offer_card(round_id, partner)
        request = request.model_copy(update={"version": max(1, len(card.versions))})
    return request, await send(engine, round_id, partner, request)


@review_app.command("approve")
def review_approve(
    round_id: str,
    partner: str,
    rate: Annotated[float | None, typer.Option(help="Adjusted reciprocal rate in percent.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why the rate was adjusted.")] = None,
    version: VersionOpt = None,
) -> None:
    """Approve a version of an offer under review as OFFERDESK_OPERATOR, optionally adjusting the reciprocal rate.

    Refused if the operator submitted any version of the offer, or if the partner sent a later version than the
    one approved.
    """
    request = as_operator(lambda reviewer: Approve(reviewer=reviewer, version=version, rate_pct=rate, reason=reason))
    sent, answer = call(lambda e: on_version(e, round_id, partner.upper(), request, Engine.approve))
    out.print(
        f"Approved version {sent.version} of {answer.partner} in round {answer.round_id} as {sent.reviewer}: "
        f"{answer.approvals}/{answer.approvals_required} approvals; {answer.state.value}.",
        highlight=False,
    )


@review_app.command("request-changes")
def review_request_changes(
    round_id: str,
    partner: str,
    note: Annotated[str, typer.Option(help="What the negotiator should change.")],
    version: VersionOpt = None,
) -> None:
    """Send a version of an offer back to its negotiator with notes, as OFFERDESK_OPERATOR (not one who submitted it).

    Refused if the partner sent a later version than the one sent back.
    """
    request = as_operator(lambda reviewer: RequestChanges(reviewer=reviewer, version=version, note=note))
    sent, answer = call(lambda e: on_version(e, round_id, partner.upper(), request, Engine.request_changes))
    out.print(
        f"Sent version {sent.version} back to the negotiator; they may amend until {answer.amend_until.isoformat()}.",
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
