"""`offerdesk offer accept`, `offerdesk staff reopen` and `offerdesk staff close`: the partner's answer to a letter,
and staff's hand on a letter that went unanswered."""

from __future__ import annotations

from typing import Annotated

import typer

from offerdesk.cli.common import as_operator, call, fail, out
from offerdesk.cli.offer import offer_app
from offerdesk.cli.staff import staff_app
from offerdesk.durations import parse_duration
from offerdesk.engine import Engine
from schemas.answer import Accept, CloseOffer, Reopen
from schemas.offer_state import OfferAnswer


async def on_letter(engine: Engine, round_id: str, partner: str, request: Accept) -> tuple[Accept, OfferAnswer]:
    """Accept the letter the request names; with none named, the offer's latest letter, read first.

    A letter replaced by a later one (a counter-offer was answered meanwhile) is refused by the offer (StaleLetter).
    """
    if request.letter is None:
        card, _ = await engine.offer_card(round_id, partner)
        request = request.model_copy(update={"letter": max(1, len(card.numbered_letters()))})
    return request, await engine.accept(round_id, partner, request)


@offer_app.command("accept")
def offer_accept(
    round_id: str,
    partner: str,
    letter: Annotated[
        int | None,
        typer.Option(
            "--letter",
            min=1,
            help="The letter you read (1, 2, …); refused if a later one exists. Default: the latest, read first.",
        ),
    ] = None,
    on_behalf: Annotated[
        bool, typer.Option("--on-behalf", help="Staff accepting for the partner, who answered by other means.")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why, when accepting on the partner's behalf (required then).")] = "",
) -> None:
    """Accept the letter that awaits the partner's answer, as OFFERDESK_OPERATOR: its terms become the deal.

    The partner's negotiator accepts; staff may accept on the partner's behalf with --on-behalf and a --reason.
    To answer with a counter-offer instead, send a new version with 'offer amend'.
    """
    if on_behalf and not reason.strip():
        raise fail("accepting on the partner's behalf needs a reason; add --reason", 2)
    request = as_operator(lambda by: Accept(by=by, letter=letter, on_behalf=on_behalf, reason=reason))
    sent, answer = call(lambda e: on_letter(e, round_id, partner.upper(), request))
    whose = " on the partner's behalf" if on_behalf else ""
    out.print(
        f"Accepted letter {sent.letter} of {answer.partner} in round {answer.round_id} as {sent.by}{whose}: "
        f"{answer.state.value}. Its terms are the deal.",
        highlight=False,
    )


@staff_app.command("reopen")
def staff_reopen(
    round_id: str,
    partner: str,
    respond_within: Annotated[str, typer.Option("--respond-within", help="The new response window from now, e.g. 7d.")],
    reason: Annotated[str, typer.Option(help="Why it is reopened; recorded, and told to the negotiator.")],
) -> None:
    """Reopen an UNANSWERED offer as OFFERDESK_OPERATOR: its latest letter awaits an answer again."""
    request = as_operator(lambda by: Reopen(by=by, respond_within=parse_duration(respond_within), reason=reason))
    answer = call(lambda e: e.reopen(round_id, partner.upper(), request))
    assert answer.respond_by is not None
    out.print(
        f"Letter {answer.letters} of {answer.partner} awaits an answer again, until {answer.respond_by.isoformat()}.",
        highlight=False,
    )


@staff_app.command("close")
def staff_close(
    round_id: str,
    partner: str,
    reason: Annotated[str, typer.Option(help="Why; recorded in the audit trail.")] = "",
) -> None:
    """Close an UNANSWERED offer as OFFERDESK_OPERATOR: it stays UNANSWERED, and its workflow ends."""
    request = as_operator(lambda by: CloseOffer(by=by, reason=reason))
    answer = call(lambda e: e.close(round_id, partner.upper(), request))
    out.print(f"{answer.partner}'s offer in round {round_id} is closed: {answer.state.value}.", highlight=False)
