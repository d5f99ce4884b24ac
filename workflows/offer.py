"""One offer, from invitation to the partner's answer: the lifecycle of DESIGN.md as a Temporal workflow.

    INVITED ──submit──▶ VALIDATING ──▶ DEFICIENT ──amend──▶ VALIDATING ──▶ UNDER_REVIEW ──quorum──▶ APPROVED
    APPROVED ──letter──▶ LETTER_ISSUED (or LETTER_FAILED, for staff to retry), awaiting the partner's answer:
        accept ──▶ ACCEPTED; a counter-offer (a new version) ──▶ VALIDATING ──▶ … ──▶ the next letter;
        the response window passes ──▶ UNANSWERED ──staff reopen──▶ LETTER_ISSUED, or staff close it
    a deadline passes: INVITED, DEFICIENT ──▶ LAPSED; UNDER_REVIEW ──▶ ESCALATED, for staff to decide
    any open state, and a letter awaiting its answer ──withdraw──▶ WITHDRAWN

The workflow completes at ACCEPTED, UNANSWERED once staff close it, WITHDRAWN and LAPSED; an offer whose letter
was issued before the NEGOTIATE patch completed at LETTER_ISSUED, and replays so.

Every change is an update with a validator, so the caller learns at once whether it was accepted and, if
not, why. Deadlines are durable timers; nothing is approved by a timer. Documents, findings and letters live
in the store; the workflow holds their digests, so its history grows by the same few hundred bytes per
update whatever the size of the offer, and it continues as new long before Temporal's limits.

This module is the lifecycle: what the offer waits for, and which update moves it how. What each update may do
is in offer_rules, the moves themselves in offer_transitions, the steps that run activities in offer_steps, and
telling people in offer_notices. The patches in force are in patches (see PATCHES.md).
"""

from __future__ import annotations

import asyncio
from functools import partial

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.answer import Accept, CloseOffer, Reopen
    from schemas.offer_state import (
        OfferAnswer,
        OfferCard,
        OfferInput,
        OfferOutcome,
        OfferState,
        SubmissionReceipt,
        SubmitOffer,
    )
    from schemas.review import (
        Approve,
        AuditPage,
        Comment,
        ExtendReview,
        Request,
        RequestChanges,
        RetryLetter,
        StaffDecision,
        Withdraw,
    )

from workflows.offer_alarm import Alarm
from workflows.offer_rules import (
    check_accept,
    check_approve,
    check_close,
    check_decide,
    check_extend,
    check_fresh,
    check_open,
    check_reopen,
    check_request_changes,
    check_retry_letter,
    check_submission,
    document_ref,
)
from workflows.offer_steps import accept, continue_as_new, file_audit_trail, issue_letter
from workflows.offer_transitions import Offer
from workflows.patches import LEGACY_OFFER_TYPE, OFFER_TYPE

S = OfferState


@workflow.defn(name=OFFER_TYPE)
class OfferWorkflow:
    @workflow.init
    def __init__(self, inp: OfferInput) -> None:
        self._offer = Offer(inp)
        self._lock = asyncio.Lock()
        """Submissions one at a time, and never a withdrawal under a validation still in flight."""
        self._alarm = Alarm()

    @workflow.run
    async def run(self, inp: OfferInput) -> OfferOutcome:
        """Until the offer is final: issue the letter once approved, else wait for people or the next deadline."""
        offer = self._offer
        self._begin()
        while True:
            offer.publish()
            if offer.ended():
                break
            if offer.continue_due():
                await continue_as_new(offer)
            elif offer.state is S.APPROVED:
                self._alarm.stop()  # nothing is due while the letter is rendered
                await issue_letter(offer)
            else:
                await self._wait_for_people_or_time()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await workflow.wait_condition(offer.notices.all_told)  # everyone is told before the offer closes
        if offer.compact():
            await file_audit_trail(offer)  # so a closed offer's whole trail reads from the store, with no worker
            offer.publish()
        return offer.outcome()

    def _begin(self) -> None:
        offer = self._offer
        offer.compact()
        carry = offer.inp.carry
        if carry is None:
            offer.record("staff", "invited", f"submissions close at {offer.inp.deadline.isoformat()}")
        elif carry.notices and offer.notices.enabled():
            for notice in carry.notices:  # the last run continued before they were done; the key is the same
                offer.notices.send(notice)
        if not offer.lean:  # a lean offer's first are its round's, or upserted at its first publish
            offer.upsert_search_attributes()

    async def _wait_for_people_or_time(self) -> None:
        """Until an update moves the offer, or its deadline (or the reminder before it) comes with nobody moving it.

        The deadline depends on the state: submissions close (INVITED), the time to amend ends (DEFICIENT), the
        review window closes (UNDER_REVIEW), the response window closes (LETTER_ISSUED). ESCALATED, LETTER_FAILED
        and UNANSWERED wait for staff, without a timer.
        """
        offer = self._offer
        if offer.lean:
            await self._alarm.wait(offer, settled=lambda: not self._lock.locked())
            return
        seen = offer.memory.revision
        due = offer.due()
        remind = offer.reminder_due(due)
        moved = partial(offer.moved_since, seen)
        if due is None:
            await workflow.wait_condition(moved)
            return
        until = remind if remind is not None else due
        remaining = (until - workflow.now()).total_seconds()
        try:
            if remaining <= 0:
                raise TimeoutError
            await workflow.wait_condition(moved, timeout=remaining)
        except TimeoutError:
            if offer.memory.revision == seen:
                if remind is not None:
                    offer.remind(due)
                else:
                    offer.on_due()

    # ---- submissions ---------------------------------------------------------------------------------

    @workflow.update
    async def submit(self, request: SubmitOffer) -> SubmissionReceipt:
        return await self._accept(request, amend=False)

    @submit.validator
    def _validate_submit(self, request: SubmitOffer) -> None:
        self._check_submission(request, amend=False)

    @workflow.update
    async def amend(self, request: SubmitOffer) -> SubmissionReceipt:
        return await self._accept(request, amend=True)

    @amend.validator
    def _validate_amend(self, request: SubmitOffer) -> None:
        self._check_submission(request, amend=True)

    async def _accept(self, request: SubmitOffer, amend: bool) -> SubmissionReceipt:
        self._offer.updates += 1
        async with self._lock:
            return await accept(self._offer, request, amend)

    def _check_submission(self, request: SubmitOffer, amend: bool) -> None:
        o = self._offer
        self._check_fresh(request)
        check_submission(o.inp, o.memory, document_ref(request), amend, workflow.now())

    @workflow.update
    async def withdraw(self, request: Withdraw) -> OfferAnswer:
        o = self._offer
        o.updates += 1
        async with self._lock:  # never withdraw under a validation still in flight
            check_open(o.inp, o.memory, "withdraw")
            o.withdraw(request)
        return o.answer()

    @withdraw.validator
    def _validate_withdraw(self, request: Withdraw) -> None:
        self._check_fresh(request)
        check_open(self._offer.inp, self._offer.memory, "withdraw")

    # ---- review --------------------------------------------------------------------------------------

    @workflow.update
    def approve(self, request: Approve) -> OfferAnswer:
        o = self._offer
        o.updates += 1
        check_approve(o.inp, o.memory, request)
        o.approve(request)
        return o.answer()

    @approve.validator
    def _validate_approve(self, request: Approve) -> None:
        self._check_fresh(request)
        check_approve(self._offer.inp, self._offer.memory, request)

    @workflow.update
    def request_changes(self, request: RequestChanges) -> OfferAnswer:
        o = self._offer
        o.updates += 1
        check_request_changes(o.inp, o.memory, request)
        o.send_back(request.reviewer, request.note)
        return o.answer()

    @request_changes.validator
    def _validate_request_changes(self, request: RequestChanges) -> None:
        self._check_fresh(request)
        check_request_changes(self._offer.inp, self._offer.memory, request)

    @workflow.update
    def comment(self, request: Comment) -> OfferAnswer:
        o = self._offer
        o.updates += 1
        check_open(o.inp, o.memory, "comment on")
        o.comment(request)
        return o.answer()

    @comment.validator
    def _validate_comment(self, request: Comment) -> None:
        self._check_fresh(request)
        check_open(self._offer.inp, self._offer.memory, "comment on")

    # ---- the partner's answer to a letter ----------------------------------------------------------------

    @workflow.update
    def accept(self, request: Accept) -> OfferAnswer:
        o = self._offer
        o.updates += 1
        check_accept(o.inp, o.memory, request, workflow.now())
        o.accept(request)
        return o.answer()

    @accept.validator
    def _validate_accept(self, request: Accept) -> None:
        self._check_fresh(request)
        check_accept(self._offer.inp, self._offer.memory, request, workflow.now())

    @workflow.update
    def reopen(self, request: Reopen) -> OfferAnswer:
        o = self._offer
        o.updates += 1
        check_reopen(o.inp, o.memory, request)
        o.reopen(request)
        return o.answer()

    @reopen.validator
    def _validate_reopen(self, request: Reopen) -> None:
        self._check_fresh(request)
        check_reopen(self._offer.inp, self._offer.memory, request)

    @workflow.update
    def close(self, request: CloseOffer) -> OfferAnswer:
        o = self._offer
        o.updates += 1
        check_close(o.inp, o.memory, request)
        o.close(request)
        return o.answer()

    @close.validator
    def _validate_close(self, request: CloseOffer) -> None:
        self._check_fresh(request)
        check_close(self._offer.inp, self._offer.memory, request)

    # ---- staff ---------------------------------------------------------------------------------------

    @workflow.update
    def extend_review(self, request: ExtendReview) -> OfferAnswer:
        o = self._offer
        o.updates += 1
        check_extend(o.inp, o.memory, request)
        o.extend_review(request)
        return o.answer()

    @extend_review.validator
    def _validate_extend_review(self, request: ExtendReview) -> None:
        self._check_fresh(request)
        check_extend(self._offer.inp, self._offer.memory, request)

    @workflow.update
    def decide(self, request: StaffDecision) -> OfferAnswer:
        o = self._offer
        o.updates += 1
        check_decide(o.inp, o.memory, request)
        o.decide(request)
        return o.answer()

    @decide.validator
    def _validate_decide(self, request: StaffDecision) -> None:
        self._check_fresh(request)
        check_decide(self._offer.inp, self._offer.memory, request)

    @workflow.update
    def retry_letter(self, request: RetryLetter) -> OfferAnswer:
        o = self._offer
        o.updates += 1
        check_retry_letter(o.inp, o.memory)
        o.retry_letter(request)
        return o.answer()

    @retry_letter.validator
    def _validate_retry_letter(self, request: RetryLetter) -> None:
        self._check_fresh(request)
        check_retry_letter(self._offer.inp, self._offer.memory)

    def _check_fresh(self, request: Request) -> None:
        """Validators only: a request its sender gave up on is refused, never applied behind their back."""
        check_fresh(self._offer.inp, request, workflow.now())

    # ---- reading: small answers; the full view is assembled outside from these and the store -----------

    @workflow.query
    def card(self) -> OfferCard:
        return self._offer.card()

    @workflow.query
    def audit(self) -> AuditPage:
        """The trail: chunks in the store, then this run's events (bounded by the run's own limits)."""
        return self._offer.audit()


@workflow.defn(name=LEGACY_OFFER_TYPE)
class LegacyOfferWorkflow(OfferWorkflow):
    """The offers started before issue 26, under the name they were started with: the same lifecycle, which asks
    each patch (workflows/patches.py) and keeps their notices, upserts and timers as they were. It retires, with
    every patch at once, when no offer of this type can still be open (workflows/PATCHES.md)."""

    @workflow.init
    def __init__(self, inp: OfferInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: OfferInput) -> OfferOutcome:
        return await super().run(inp)
