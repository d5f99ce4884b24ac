"""`offerdesk offer accept`, `offerdesk staff reopen` and `offerdesk staff close`: the partner's answer to a letter,
and staff's hand on a letter that went unanswered."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from offerdesk.cli.common import REFUSED, UNUSABLE, as_operator, call, fail, load_settings, operator, out
from offerdesk.cli.offer import offer_app
from offerdesk.cli.staff import staff_app
from offerdesk.durations import parse_duration
from offerdesk.engine import Engine
from schemas.answer import Accept, CloseOffer, Reopen
from schemas.offer_state import OfferAnswer
from schemas.portal import Role


async def on_letter(engine: Engine, round_id: str, partner: str, request: Accept) -> tuple[Accept, OfferAnswer]:
    """Accept the letter the request names; with none named, the offer's latest letter, read first.

    A letter replaced by a later one (a counter-offer was answered meanwhile) is refused by the offer (StaleLetter).
    """
    if request.letter is None:
        card, _ = await engine.offer_card(round_id, partner)
        request = request.model_copy(update={"letter": max(1, len(card.numbered_letters()))})
    return request, await engine.accept(round_id, partner, request)


def check_who_accepts(partner: str, on_behalf: bool) -> None:
    """The portal's rule for who accepts, for an operator the portal knows by that name (as the offer compares
    names, whatever their case): the partner's negotiator accepts, for themselves; staff accept only on the
    partner's behalf; reviewers never accept. An operator the portal does not know, or a host without the portal's
    database, is the command line's own (a staff member at the server), as for every other command."""
    from offerdesk.people import DatabaseUnavailable, SchemaMismatch, open_people

    name = operator()
    database = load_settings().database
    if database.startswith("sqlite:///") and not Path(database.removeprefix("sqlite:///")).exists():
        return  # no portal on this host: nothing to create here
    try:
        known = open_people(database, 1).users.all()
    except (DatabaseUnavailable, SchemaMismatch):
        return
    user = next((u for u in known if u.name.casefold() == name.casefold()), None)
    if user is None:
        return
    if user.role is Role.REVIEWER:
        raise fail(f"{name} is a reviewer; reviewers never accept a letter: the partner's negotiator does", REFUSED)
    if user.role is Role.NEGOTIATOR and user.partner != partner:
        raise fail(f"{name} negotiates for {user.partner}, not {partner}; only {partner}'s negotiator accepts", REFUSED)
    if user.role is Role.NEGOTIATOR and on_behalf:
        raise fail(f"{name} is {partner}'s negotiator and accepts for the partner as it is; drop --on-behalf", UNUSABLE)
    if user.role is Role.STAFF and not on_behalf:
        raise fail(f"{name} is staff; staff accept on the partner's behalf: add --on-behalf and --reason", UNUSABLE)


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
    check_who_accepts(partner.upper(), on_behalf)
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
