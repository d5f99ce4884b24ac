"""One offer, for the people who act on it: its status, the negotiator's versions, the reviewers' and staff's
decisions, and its letter."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from offerdesk.engine import Refused
from offerdesk.people.principal import Principal
from offerdesk.portal.access import Action, view_for
from offerdesk.portal.desk.base import DeskBase
from schemas.answer import Accept, AcceptBody, CloseBody, CloseOffer, Reopen, ReopenBody
from schemas.letter import LetterRef
from schemas.listing import OfferListing
from schemas.offer import OfferDocument
from schemas.offer_state import OfferAnswer, OfferState, OfferStatus, SubmissionResult
from schemas.portal import (
    ApproveBody,
    CommentBody,
    DecideBody,
    ExtendBody,
    RequestChangesBody,
    RetryLetterBody,
    Role,
    WithdrawBody,
)
from schemas.refusal import Refusal
from schemas.review import Approve, Comment, ExtendReview, RequestChanges, RetryLetter, StaffDecision, Withdraw

R = TypeVar("R")


@dataclass(frozen=True)
class Letter:
    ref: LetterRef
    content: bytes
    number: int = 1


class OfferDesk(DeskBase):
    # ---- reading -----------------------------------------------------------------------------

    async def offer(self, who: Principal, round_id: str, partner: str) -> OfferStatus:
        async def work() -> OfferStatus:
            return view_for(who, await self.engine.offer_status(round_id, partner))

        return await self._audited(who, Action.READ_OFFER, work, round_id=round_id, partner=partner, quiet=True)

    async def offers(self, who: Principal, state: OfferState | None = None) -> list[OfferListing]:
        """Every offer the caller may see: a negotiator's own partner's, everyone's for the others."""
        partner = who.partner if who.role is Role.NEGOTIATOR else None
        listed = functools.partial(self.engine.list_offers, state=state, partner=partner)
        return await self._audited(who, Action.LIST_OFFERS, listed, quiet=True)

    async def queue(self, who: Principal) -> list[OfferListing]:
        """Offers waiting for reviewers, the review window closing soonest first."""

        async def work() -> list[OfferListing]:
            waiting = await self.engine.list_offers(state=OfferState.UNDER_REVIEW)
            far = datetime.max.replace(tzinfo=UTC)
            return sorted(waiting, key=lambda o: (o.review_deadline or far, o.round_id, o.partner))

        return await self._audited(who, Action.QUEUE, work, quiet=True)

    # ---- negotiators -------------------------------------------------------------------------

    async def submit(
        self, who: Principal, round_id: str, partner: str, document: OfferDocument, amend: bool | None = None
    ) -> SubmissionResult:
        """Submit, or amend when amend is True; None means whichever the offer's state calls for."""

        async def work() -> SubmissionResult:
            if (document.round_id, document.partner) != (round_id, partner):
                raise Refused(
                    f"the document is for {document.partner} in round {document.round_id}, but it was sent to "
                    f"{partner} in round {round_id}; check round_id and partner in the file",
                    Refusal.WRONG_OFFER,
                )
            as_amendment = amend
            if as_amendment is None:
                as_amendment = bool((await self.engine.offer_card(round_id, partner))[0].versions)
            return await self.engine.submit(document, amend=as_amendment, by=who.name)

        need = Action.AMEND if amend else Action.SUBMIT
        digest = f"digest {document.digest()[:12]}"
        return await self._audited(who, need, work, round_id=round_id, partner=partner, detail=digest)

    async def withdraw(self, who: Principal, round_id: str, partner: str, body: WithdrawBody) -> OfferAnswer:
        request = Withdraw(by=who.name, reason=body.reason)
        return await self._update(who, Action.WITHDRAW, round_id, partner, self.engine.withdraw, request)

    # ---- reviewers ---------------------------------------------------------------------------

    async def approve(self, who: Principal, round_id: str, partner: str, body: ApproveBody) -> OfferAnswer:
        request = Approve(reviewer=who.name, version=body.version, rate_pct=body.rate_pct, reason=body.reason)
        rate = f", rate {body.rate_pct:g}%: {body.reason}" if body.rate_pct is not None else ""
        detail = f"version {body.version}{rate}"
        return await self._update(who, Action.APPROVE, round_id, partner, self.engine.approve, request, detail)

    async def request_changes(
        self, who: Principal, round_id: str, partner: str, body: RequestChangesBody
    ) -> OfferAnswer:
        request = RequestChanges(reviewer=who.name, version=body.version, note=body.note)
        changes = self.engine.request_changes
        detail = f"version {body.version}: {body.note}"
        return await self._update(who, Action.REQUEST_CHANGES, round_id, partner, changes, request, detail)

    async def comment(self, who: Principal, round_id: str, partner: str, body: CommentBody) -> OfferAnswer:
        request = Comment(reviewer=who.name, text=body.text)
        return await self._update(who, Action.COMMENT, round_id, partner, self.engine.comment, request)

    # ---- staff -------------------------------------------------------------------------------

    async def extend(self, who: Principal, round_id: str, partner: str, body: ExtendBody) -> OfferAnswer:
        request = ExtendReview(by=who.name, extend_by=body.extend_by, reason=body.reason)
        detail = f"by {body.extend_by}: {body.reason}"
        return await self._update(who, Action.EXTEND, round_id, partner, self.engine.extend_review, request, detail)

    async def decide(self, who: Principal, round_id: str, partner: str, body: DecideBody) -> OfferAnswer:
        request = StaffDecision(
            by=who.name, version=body.version, decision=body.decision, rate_pct=body.rate_pct, reason=body.reason
        )
        rate = f" at {body.rate_pct:g}%" if body.rate_pct is not None else ""
        detail = f"{body.decision} version {body.version}{rate}: {body.reason}"
        return await self._update(who, Action.DECIDE, round_id, partner, self.engine.decide, request, detail)

    # ---- the partner's answer to a letter -------------------------------------------------------

    async def accept(self, who: Principal, round_id: str, partner: str, body: AcceptBody) -> OfferAnswer:
        """The negotiator accepts the letter; staff accept on the partner's behalf, with a reason (the offer refuses
        one without). Reviewers may not (Forbidden)."""
        staff = who.role is Role.STAFF
        request = Accept(by=who.name, letter=body.letter, on_behalf=staff, reason=body.reason)
        detail = f"letter {body.letter}" + (f" for the partner: {body.reason}" if staff else "")
        return await self._update(who, Action.ACCEPT, round_id, partner, self.engine.accept, request, detail)

    async def reopen(self, who: Principal, round_id: str, partner: str, body: ReopenBody) -> OfferAnswer:
        request = Reopen(by=who.name, respond_within=body.respond_within, reason=body.reason)
        detail = f"for {body.respond_within}: {body.reason}"
        return await self._update(who, Action.REOPEN, round_id, partner, self.engine.reopen, request, detail)

    async def close(self, who: Principal, round_id: str, partner: str, body: CloseBody) -> OfferAnswer:
        request = CloseOffer(by=who.name, reason=body.reason)
        return await self._update(who, Action.REOPEN, round_id, partner, self.engine.close, request, body.reason)

    async def retry_letter(self, who: Principal, round_id: str, partner: str, body: RetryLetterBody) -> OfferAnswer:
        request = RetryLetter(by=who.name, reason=body.reason)
        retry = self.engine.retry_letter
        return await self._update(who, Action.RETRY_LETTER, round_id, partner, retry, request, body.reason)

    async def _update(
        self,
        who: Principal,
        need: Action,
        round_id: str,
        partner: str,
        update: Callable[[str, str, R], Awaitable[OfferAnswer]],
        request: R,
        detail: str = "",
    ) -> OfferAnswer:
        """One of the offer's updates, made by `who` (named in the request) and audited."""
        work = functools.partial(update, round_id, partner, request)
        return await self._audited(who, need, work, round_id=round_id, partner=partner, detail=detail)

    # ---- letters -----------------------------------------------------------------------------

    async def letter(self, who: Principal, round_id: str, partner: str, number: int | None = None) -> Letter:
        """Letter `number` of the offer (the latest by default): every letter is kept."""

        async def work() -> Letter:
            card, found = await self.engine.letter(round_id, partner, number)
            if found is None:
                why = (
                    f"its letter failed ({card.letter_failure}); staff retry it once the cause is fixed"
                    if card.letter_failure
                    else "there is no letter until it is approved and the letter is issued"
                )
                raise Refused(
                    f"the offer of {card.partner_name} in round {round_id} is {card.state.value}; {why}",
                    Refusal.NO_LETTER_YET,
                )
            return Letter(found.ref, await self.engine.letter_bytes(found.ref), found.number)

        detail = f"letter {number}" if number is not None else ""
        return await self._audited(who, Action.READ_LETTER, work, round_id=round_id, partner=partner, detail=detail)
