"""Who may do what: the role table of the portal as data, and what each role may see of an offer.

Pure functions, tested directly; the API and the pages both go through `require`.
"""

from __future__ import annotations

from enum import StrEnum

from offerdesk.people.principal import Principal
from schemas.offer_state import OfferState, OfferStatus
from schemas.portal import Role


class Action(StrEnum):
    SUBMIT = "submit"
    AMEND = "amend"
    WITHDRAW = "withdraw"
    READ_OFFER = "read offer"
    READ_LETTER = "download letter"
    LIST_OFFERS = "list offers"
    QUEUE = "see the review queue"
    APPROVE = "approve"
    REQUEST_CHANGES = "request changes"
    COMMENT = "comment"
    OPEN_ROUND = "open a round"
    DASHBOARD = "see a round's dashboard"
    EXTEND = "extend a review window"
    DECIDE = "decide an escalation"
    ROUND_LETTERS = "download a round's letters"
    RETRY_LETTER = "retry a failed letter"
    ACCEPT = "accept a letter"
    REOPEN = "reopen or close an unanswered offer"
    AUDIT = "read the audit log"
    MANAGE_ACCESS = "manage users and API tokens"
    NOTIFICATIONS = "read your notifications and set your reminders"


ALLOWED: dict[Role, frozenset[Action]] = {
    Role.NEGOTIATOR: frozenset(
        {
            Action.SUBMIT,
            Action.AMEND,
            Action.WITHDRAW,
            Action.READ_OFFER,
            Action.READ_LETTER,
            Action.ACCEPT,
            Action.LIST_OFFERS,
            Action.NOTIFICATIONS,
        }
    ),
    Role.REVIEWER: frozenset(
        {
            Action.READ_OFFER,
            Action.LIST_OFFERS,
            Action.QUEUE,
            Action.APPROVE,
            Action.REQUEST_CHANGES,
            Action.COMMENT,
            Action.NOTIFICATIONS,
        }
    ),
    Role.STAFF: frozenset(Action),
}
"""Staff may do everything, as the role table says: they also enter an offer a partner sent by other means, and
accept a letter on a partner's behalf (with a reason). Reviewers never accept a letter.
Everyone reads their own notifications (and only their own: the inbox is the caller's, never a name sent)."""

# What a negotiator sees of the offer's history: their own steps and what was addressed to them.
NEGOTIATOR_EVENTS = frozenset(
    {
        "invited",
        "submitted",
        "amended",
        "withdrew",
        "requested changes",
        "lapsed",
        "issued the letter",
        "validation failed",
        "countered",
        "accepted",
        "accepted for the partner",
        "went unanswered",
        "reopened",
        "closed",
    }
)


LETTER_TERMS_SHOWN = frozenset({OfferState.LETTER_ISSUED, OfferState.ACCEPTED, OfferState.UNANSWERED})
"""States in which a negotiator sees the agreed terms: those of the letter in their hands."""


class Forbidden(Exception):
    """The caller's role may not do this (HTTP 403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(Exception):
    """Nothing the caller may know of exists here (HTTP 404)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def require(who: Principal, action: Action, round_id: str | None = None, partner: str | None = None) -> None:
    """Raise unless `who` may do `action` (to the offer of `partner`, if one is named).

    A negotiator asking about another partner learns nothing, not even that the offer exists: NotFound.
    """
    if who.role is Role.NEGOTIATOR and partner is not None and partner != who.partner:
        where = f" in round {round_id}" if round_id else ""
        raise NotFound(f"there is no offer of {partner}{where} that you can see")
    if action not in ALLOWED[who.role]:
        raise Forbidden(f"a {who.role.value} may not {action.value}; sign in with a role that may")


def view_for(who: Principal, status: OfferStatus) -> OfferStatus:
    """The offer as `who` may see it: negotiators see no internal comments, rates or reviewers' approvals."""
    if who.role is not Role.NEGOTIATOR:
        return status
    return status.model_copy(
        update={
            "landing_zone": None,
            "approvals": [],
            "terms": status.terms if status.state in LETTER_TERMS_SHOWN else None,
            "letter_failure": None,
            "notes": [],
            "events": [e for e in status.events if e.action in NEGOTIATOR_EVENTS],
        }
    )
