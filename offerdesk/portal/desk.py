"""What the portal does on a person's behalf: check the role, call the engine as that person, keep the audit.

The API and the web pages are two faces of this one class, so a rule holds in both or in neither.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from offerdesk.engine import Engine, Refused
from offerdesk.portal.access import Action, Forbidden, NotFound, require, view_for
from offerdesk.portal.accounts import Accounts, Principal
from offers.reference import UnknownPartnerError, partner_references
from schemas.letter import LetterRef
from schemas.listing import OfferListing
from schemas.offer import OfferDocument
from schemas.offer_state import OfferAnswer, OfferState, OfferStatus, SubmissionResult
from schemas.portal import (
    ApproveBody,
    AuditRecord,
    CommentBody,
    DecideBody,
    ExtendBody,
    OpenRoundBody,
    RequestChangesBody,
    RetryLetterBody,
    Role,
    RoundDashboard,
    WithdrawBody,
)
from schemas.refusal import Refusal
from schemas.review import Approve, Comment, ExtendReview, RequestChanges, RetryLetter, StaffDecision, Withdraw
from schemas.round import RoundSpec, RoundStatus

T = TypeVar("T")


@dataclass(frozen=True)
class Letter:
    ref: LetterRef
    content: bytes


DASHBOARD_FRESH_S = 2.0
"""How long one round's dashboard is shared between the staff who ask for it. Visibility itself lags a second
or so; a round of 600 costs the server half a second of CPU per listing, so twenty readers at once would
otherwise queue behind each other's listings."""
DASHBOARD_STALE_S = 10.0
"""While a newer listing is being made, the last one is served at once if it began at most this long ago (its
`as_of` says when), rather than every reader waiting the listing's time; an older one is waited for."""


class Desk:
    def __init__(self, engine: Engine, accounts: Accounts) -> None:
        self.engine = engine
        self.accounts = accounts
        self._dashboards: dict[str, tuple[float, asyncio.Future[RoundDashboard]]] = {}
        self._last_dashboards: dict[str, tuple[float, RoundDashboard]] = {}

    async def _audited(
        self,
        who: Principal,
        action: Action,
        round_id: str | None,
        partner: str | None,
        work: Callable[[], Awaitable[T]],
        detail: str = "",
    ) -> T:
        """Check the role, do the work, and record the attempt with how it ended, whatever the ending."""
        try:
            require(who, action, round_id, partner)
            result = await work()
        except (Forbidden, NotFound, Refused) as e:
            outcome = {Forbidden: "forbidden", NotFound: "not found"}.get(type(e), "refused")
            await asyncio.to_thread(
                self.accounts.record, who, action.value, outcome, round_id, partner, f"{detail} {e}".strip()
            )
            raise
        await asyncio.to_thread(self.accounts.record, who, action.value, "done", round_id, partner, detail)
        return result

    # ---- reading -----------------------------------------------------------------------------

    async def offer(self, who: Principal, round_id: str, partner: str) -> OfferStatus:
        require(who, Action.READ_OFFER, round_id, partner)
        return view_for(who, await self.engine.offer_status(round_id, partner))

    async def offers(self, who: Principal, state: OfferState | None = None) -> list[OfferListing]:
        """Every offer the caller may see: a negotiator's own partner's, everyone's for the others."""
        require(who, Action.LIST_OFFERS)
        partner = who.partner if who.role is Role.NEGOTIATOR else None
        return await self.engine.list_offers(state=state, partner=partner)

    async def queue(self, who: Principal) -> list[OfferListing]:
        """Offers waiting for reviewers, the review window closing soonest first."""
        require(who, Action.QUEUE)
        waiting = await self.engine.list_offers(state=OfferState.UNDER_REVIEW)
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(waiting, key=lambda o: (o.review_deadline or far, o.round_id, o.partner))

    async def rounds(self, who: Principal) -> list[str]:
        require(who, Action.DASHBOARD)
        return await self.engine.list_rounds()

    async def dashboard(self, who: Principal, round_id: str) -> RoundDashboard:
        """The round's dashboard: one listing at a time per round, shared by whoever asks within a moment.

        Once a listing is older than DASHBOARD_FRESH_S the next reader starts another; while it is made, readers
        get the last one if it is recent enough (DASHBOARD_STALE_S), and wait for the new one otherwise.
        """
        require(who, Action.DASHBOARD)
        now = asyncio.get_running_loop().time()
        for rid, (at, _) in list(self._dashboards.items()):
            if now - at > DASHBOARD_FRESH_S:
                del self._dashboards[rid]
        for rid, (at, _) in list(self._last_dashboards.items()):
            if now - at > DASHBOARD_STALE_S:
                del self._last_dashboards[rid]
        if round_id not in self._dashboards:
            started = asyncio.ensure_future(self._dashboard(round_id))
            self._dashboards[round_id] = (now, started)
            started.add_done_callback(lambda f: self._settled(round_id, now, f))
        building = self._dashboards[round_id][1]
        if not building.done() and round_id in self._last_dashboards:
            return self._last_dashboards[round_id][1]
        return await asyncio.shield(building)

    def _settled(self, round_id: str, began: float, built: asyncio.Future[RoundDashboard]) -> None:
        """Keep a finished listing to serve while the next is made; a refusal or an outage is said to whoever
        asked, and never served to the next caller."""
        if built.cancelled() or built.exception() is not None:
            if self._dashboards.get(round_id, (0, None))[1] is built:
                del self._dashboards[round_id]
            return
        last = self._last_dashboards.get(round_id)
        if last is None or last[0] < began:
            self._last_dashboards[round_id] = (began, built.result())

    async def _dashboard(self, round_id: str) -> RoundDashboard:
        began = datetime.now(UTC)
        status, listing = await asyncio.gather(
            self.engine.round_status(round_id), self.engine.list_offers(round_id=round_id)
        )
        listed = {o.partner: o for o in listing}
        offers = [
            listed.get(p)
            or OfferListing(  # not yet in visibility (it lags a second or so): show what the round knows
                round_id=round_id,
                partner=p,
                state=OfferState.INVITED,
                review_deadline=None,
                workflow_id="",
                running=True,
            )
            for p in status.partners
        ]
        ready = sum(o.state is OfferState.LETTER_ISSUED for o in offers)
        return RoundDashboard(round=status, offers=offers, letters_ready=ready, as_of=began)

    async def audit(self, who: Principal, round_id: str | None = None, limit: int = 500) -> list[AuditRecord]:
        require(who, Action.AUDIT)
        return await asyncio.to_thread(self.accounts.audit, limit, round_id)

    # ---- negotiators -------------------------------------------------------------------------

    async def submit(
        self, who: Principal, round_id: str, partner: str, document: OfferDocument, amend: bool | None = None
    ) -> SubmissionResult:
        """Submit, or amend when amend is True; None means whichever the offer's state calls for."""
        action = Action.AMEND if amend else Action.SUBMIT

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

        return await self._audited(who, action, round_id, partner, work, f"digest {document.digest()[:12]}")

    async def withdraw(self, who: Principal, round_id: str, partner: str, body: WithdrawBody) -> OfferAnswer:
        request = Withdraw(by=who.name, reason=body.reason)
        return await self._audited(
            who, Action.WITHDRAW, round_id, partner, lambda: self.engine.withdraw(round_id, partner, request)
        )

    # ---- reviewers ---------------------------------------------------------------------------

    async def approve(self, who: Principal, round_id: str, partner: str, body: ApproveBody) -> OfferAnswer:
        request = Approve(reviewer=who.name, rate_pct=body.rate_pct, reason=body.reason)
        detail = f"rate {body.rate_pct:g}%: {body.reason}" if body.rate_pct is not None else ""
        return await self._audited(
            who, Action.APPROVE, round_id, partner, lambda: self.engine.approve(round_id, partner, request), detail
        )

    async def request_changes(
        self, who: Principal, round_id: str, partner: str, body: RequestChangesBody
    ) -> OfferAnswer:
        request = RequestChanges(reviewer=who.name, note=body.note)
        return await self._audited(
            who,
            Action.REQUEST_CHANGES,
            round_id,
            partner,
            lambda: self.engine.request_changes(round_id, partner, request),
            body.note,
        )

    async def comment(self, who: Principal, round_id: str, partner: str, body: CommentBody) -> OfferAnswer:
        request = Comment(reviewer=who.name, text=body.text)
        return await self._audited(
            who, Action.COMMENT, round_id, partner, lambda: self.engine.comment(round_id, partner, request)
        )

    # ---- staff -------------------------------------------------------------------------------

    async def open_round(self, who: Principal, body: OpenRoundBody) -> RoundStatus:
        async def work() -> RoundStatus:
            try:
                partners = partner_references(body.partners)
            except UnknownPartnerError as e:
                raise Refused(str(e), Refusal.UNKNOWN_PARTNER) from None
            spec = RoundSpec(
                round_id=body.round_id,
                partners=partners,
                deadline=body.deadline,
                review_window=body.review_window,
                approvals_required=body.approvals_required,
                opened_by=who.name,
            )
            return await self.engine.open_round(spec)

        return await self._audited(who, Action.OPEN_ROUND, body.round_id, None, work, ", ".join(body.partners))

    async def extend(self, who: Principal, round_id: str, partner: str, body: ExtendBody) -> OfferAnswer:
        request = ExtendReview(by=who.name, extend_by=body.extend_by, reason=body.reason)
        return await self._audited(
            who,
            Action.EXTEND,
            round_id,
            partner,
            lambda: self.engine.extend_review(round_id, partner, request),
            f"by {body.extend_by}: {body.reason}",
        )

    async def decide(self, who: Principal, round_id: str, partner: str, body: DecideBody) -> OfferAnswer:
        request = StaffDecision(by=who.name, decision=body.decision, rate_pct=body.rate_pct, reason=body.reason)
        rate = f" at {body.rate_pct:g}%" if body.rate_pct is not None else ""
        return await self._audited(
            who,
            Action.DECIDE,
            round_id,
            partner,
            lambda: self.engine.decide(round_id, partner, request),
            f"{body.decision}{rate}: {body.reason}",
        )

    async def retry_letter(self, who: Principal, round_id: str, partner: str, body: RetryLetterBody) -> OfferAnswer:
        request = RetryLetter(by=who.name, reason=body.reason)
        return await self._audited(
            who,
            Action.RETRY_LETTER,
            round_id,
            partner,
            lambda: self.engine.retry_letter(round_id, partner, request),
            body.reason,
        )

    # ---- letters -----------------------------------------------------------------------------

    async def letter(self, who: Principal, round_id: str, partner: str) -> Letter:
        async def work() -> Letter:
            card, ref = await self.engine.letter(round_id, partner)
            if ref is None:
                why = (
                    f"its letter failed ({card.letter_failure}); staff retry it once the cause is fixed"
                    if card.letter_failure
                    else "there is no letter until it is approved and the letter is issued"
                )
                raise Refused(
                    f"the offer of {card.partner_name} in round {round_id} is {card.state.value}; {why}",
                    Refusal.NO_LETTER_YET,
                )
            return Letter(ref, await self.engine.letter_bytes(ref))

        return await self._audited(who, Action.READ_LETTER, round_id, partner, work)

    async def round_letters(self, who: Principal, round_id: str) -> tuple[bytes, int]:
        """Every issued letter of the round in one ZIP, and how many it holds."""

        async def work() -> tuple[bytes, int]:
            await self.engine.round_status(round_id)  # a round that does not exist says so
            refs = [o.letter for o in await self.engine.list_offers(round_id=round_id) if o.letter is not None]
            if not refs:
                raise Refused(f"round {round_id} has no letters yet", Refusal.NO_LETTER_YET)
            contents = [await self.engine.letter_bytes(ref) for ref in refs]
            return await asyncio.to_thread(_zip, list(zip(refs, contents, strict=True))), len(refs)

        return await self._audited(who, Action.ROUND_LETTERS, round_id, None, work)


def _zip(letters: list[tuple[LetterRef, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:  # PDFs are compressed already
        for ref, content in letters:
            archive.writestr(ref.filename, content)
    return buffer.getvalue()
