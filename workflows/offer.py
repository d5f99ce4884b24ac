"""One offer, from invitation to letter: the lifecycle of DESIGN.md as a Temporal workflow.

Every change is an update with a validator, so the caller learns at once whether it was accepted and, if
not, why. Deadlines are durable timers; nothing is approved by a timer.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.names import PROPOSE_LANDING_ZONE, RENDER_AND_STORE_LETTER, VALIDATE_OFFER
    from schemas.landing import AgreedTerms, Approval, LandingZone, ProposeRequest
    from schemas.letter import LetterInput, LetterRef
    from schemas.offer import OfferDocument
    from schemas.offer_state import (
        FINAL_STATES,
        OfferInput,
        OfferOutcome,
        OfferState,
        OfferStatus,
        OfferVersion,
        SubmissionReceipt,
        SubmitOffer,
    )
    from schemas.review import (
        Approve,
        AuditEvent,
        Comment,
        ExtendReview,
        RequestChanges,
        StaffDecision,
        Withdraw,
    )
    from schemas.validation import ValidateRequest, ValidationReport
    from workflows.names import OFFER_PARTNER, OFFER_REVIEW_DEADLINE, OFFER_ROUND, OFFER_STATE

S = OfferState
OPEN_STATES = frozenset({S.INVITED, S.VALIDATING, S.DEFICIENT, S.UNDER_REVIEW, S.ESCALATED})
QUICK_TIMEOUT = timedelta(seconds=30)
QUICK_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10))


# Workflows started before this patch ran validation and the landing zone as ordinary activities; they replay so.
QUICK_AS_LOCAL = "quick-steps-as-local-activities"
Q = TypeVar("Q")


async def _quick(activity: str, request: BaseModel, result_type: type[Q]) -> Q:
    """Validation and the landing zone: milliseconds of pure computation on the worker.

    As local activities they skip the task-queue round trip through the server (three history events and a
    workflow task each), so a submission is answered sooner and the server does less per offer.
    """
    if workflow.patched(QUICK_AS_LOCAL):
        result = await workflow.execute_local_activity(
            activity, request, result_type=result_type, start_to_close_timeout=QUICK_TIMEOUT, retry_policy=QUICK_RETRY
        )
    else:
        result = await workflow.execute_activity(
            activity, request, result_type=result_type, start_to_close_timeout=QUICK_TIMEOUT, retry_policy=QUICK_RETRY
        )
    return cast(Q, result)


def refuse(message: str, kind: str) -> ApplicationError:
    """A refusal the caller reads: a sentence, and a type a program can test."""
    return ApplicationError(message, type=kind, non_retryable=True)


def _same_person(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


@workflow.defn
class OfferWorkflow:
    @workflow.init
    def __init__(self, inp: OfferInput) -> None:
        self._inp = inp
        self._state = S.INVITED
        self._revision = 0
        self._versions: list[OfferVersion] = []
        self._report: ValidationReport | None = None
        self._zone: LandingZone | None = None
        self._approvals: list[Approval] = []
        self._changes: list[str] = []
        self._amend_until: datetime = inp.deadline
        self._review_deadline: datetime | None = None
        self._terms: AgreedTerms | None = None
        self._letter: LetterRef | None = None
        self._events: list[AuditEvent] = []
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, inp: OfferInput) -> OfferOutcome:
        self._record("staff", "invited", f"submissions close at {inp.deadline.isoformat()}")
        self._upsert_search_attributes()
        while self._state not in FINAL_STATES:
            if self._state is S.APPROVED:
                await self._issue_letter()
                continue
            seen = self._revision
            due = self._due()
            if due is None:
                await workflow.wait_condition(partial(self._moved_since, seen))
                continue
            remaining = (due - workflow.now()).total_seconds()
            try:
                if remaining <= 0:
                    raise TimeoutError
                await workflow.wait_condition(partial(self._moved_since, seen), timeout=remaining)
            except TimeoutError:
                if self._revision == seen:
                    self._on_due()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return OfferOutcome(
            partner=inp.partner.code, state=self._state, versions=len(self._versions), letter=self._letter
        )

    # ---- submissions -------------------------------------------------------------------------

    @workflow.update
    async def submit(self, request: SubmitOffer) -> SubmissionReceipt:
        return await self._accept(request.document, amend=False)

    @submit.validator
    def _validate_submit(self, request: SubmitOffer) -> None:
        self._check_submission(request.document, False, request.document.digest())

    @workflow.update
    async def amend(self, request: SubmitOffer) -> SubmissionReceipt:
        return await self._accept(request.document, amend=True)

    @amend.validator
    def _validate_amend(self, request: SubmitOffer) -> None:
        self._check_submission(request.document, True, request.document.digest())

    @workflow.update
    async def withdraw(self, request: Withdraw) -> OfferStatus:
        async with self._lock:  # never withdraw under a validation still in flight
            self._check_open("withdraw")
            self._record(request.by, "withdrew", request.reason)
            self._set_state(S.WITHDRAWN)
        return self.status()

    @withdraw.validator
    def _validate_withdraw(self, request: Withdraw) -> None:
        self._check_open("withdraw")

    # ---- review ------------------------------------------------------------------------------

    @workflow.update
    def approve(self, request: Approve) -> OfferStatus:
        self._check_approve(request)
        self._approvals.append(
            Approval(reviewer=request.reviewer, at=workflow.now(), rate_pct=request.rate_pct, reason=request.reason)
        )
        detail = f"rate {request.rate_pct:g}%: {request.reason}" if request.rate_pct is not None else ""
        self._record(request.reviewer, "approved", detail, rate_pct=request.rate_pct)
        if len(self._approvals) >= self._inp.approvals_required:
            self._agree()
        else:
            self._touch()
        return self.status()

    @approve.validator
    def _validate_approve(self, request: Approve) -> None:
        self._check_approve(request)

    @workflow.update
    def request_changes(self, request: RequestChanges) -> OfferStatus:
        self._check_reviewer(request.reviewer)
        self._send_back(request.reviewer, request.note)
        return self.status()

    @request_changes.validator
    def _validate_request_changes(self, request: RequestChanges) -> None:
        self._check_reviewer(request.reviewer)

    @workflow.update
    def comment(self, request: Comment) -> OfferStatus:
        self._check_open("comment on")
        self._record(request.reviewer, "commented", request.text)
        self._touch()
        return self.status()

    @comment.validator
    def _validate_comment(self, request: Comment) -> None:
        self._check_open("comment on")

    # ---- staff -------------------------------------------------------------------------------

    @workflow.update
    def extend_review(self, request: ExtendReview) -> OfferStatus:
        self._check_extend(request)
        start = max(self._review_deadline or workflow.now(), workflow.now())
        self._review_deadline = start + request.extend_by
        self._record(
            request.by, "extended the review window", f"to {self._review_deadline.isoformat()}. {request.reason}"
        )
        self._set_state(S.UNDER_REVIEW)
        return self.status()

    @extend_review.validator
    def _validate_extend_review(self, request: ExtendReview) -> None:
        self._check_extend(request)

    @workflow.update
    def decide(self, request: StaffDecision) -> OfferStatus:
        self._check_decide()
        if request.decision == "request_changes":
            self._send_back(request.by, request.reason)
        else:
            self._approvals.append(
                Approval(
                    reviewer=request.by,
                    at=workflow.now(),
                    rate_pct=request.rate_pct,
                    reason=request.reason,
                    by_staff=True,
                )
            )
            self._record(request.by, "decided: approve", request.reason, rate_pct=request.rate_pct)
            self._agree()
        return self.status()

    @decide.validator
    def _validate_decide(self, request: StaffDecision) -> None:
        self._check_decide()

    @workflow.query
    def status(self) -> OfferStatus:
        return OfferStatus(
            round_id=self._inp.round_id,
            partner=self._inp.partner.code,
            partner_name=self._inp.partner.name,
            state=self._state,
            deadline=self._inp.deadline,
            amend_until=self._amend_until,
            review_deadline=self._review_deadline,
            approvals_required=self._inp.approvals_required,
            versions=self._versions,
            report=self._report,
            landing_zone=self._zone,
            approvals=self._approvals,
            changes_requested=self._changes,
            terms=self._terms,
            letter=self._letter,
            events=self._events,
        )

    # ---- checks: each is called by the validator and again by the handler ---------------------

    def _who(self) -> str:
        return f"{self._inp.partner.name}'s offer in round {self._inp.round_id}"

    def _check_submission(self, doc: OfferDocument, amend: bool, digest: str) -> bool:
        """Refuses what may not be accepted; True when the document repeats the latest version."""
        inp = self._inp
        if doc.round_id != inp.round_id or doc.partner != inp.partner.code:
            raise refuse(
                f"this document is for round {doc.round_id}, partner {doc.partner}, but was sent to round "
                f"{inp.round_id}, partner {inp.partner.code}; fix round_id and partner in the file",
                "WrongOffer",
            )
        if self._versions and digest == self._versions[-1].digest:
            return True  # the same document again: answered with the existing version, not a second offer
        if self._state not in OPEN_STATES:
            raise refuse(f"{self._who()} is {self._state.value}: it takes no more submissions", "OfferClosed")
        now = workflow.now()
        if not amend:
            if self._versions:
                raise refuse(
                    f"{self._who()} was already submitted (version {len(self._versions)}); "
                    "send a changed document with 'offer amend'",
                    "AlreadySubmitted",
                )
            if now >= inp.deadline:
                raise refuse(
                    f"round {inp.round_id} closed for submissions at {inp.deadline.isoformat()}; "
                    "this offer was not accepted",
                    "DeadlinePassed",
                )
            return False
        if not self._versions:
            raise refuse(f"{self._who()} has not been submitted yet; use 'offer submit' first", "NothingToAmend")
        if self._state is S.DEFICIENT and now < self._amend_until:
            return False
        if self._state is S.UNDER_REVIEW and now < inp.deadline:
            return False
        if self._state is S.VALIDATING:
            raise refuse(f"{self._who()} is being validated; amend again in a moment", "Busy")
        if self._state in (S.DEFICIENT, S.UNDER_REVIEW):
            until = self._amend_until if self._state is S.DEFICIENT else inp.deadline
            raise refuse(
                f"{self._who()} could be amended until {until.isoformat()}; that time has passed",
                "DeadlinePassed",
            )
        raise refuse(f"{self._who()} is {self._state.value}: it cannot be amended now", "WrongState")

    def _check_open(self, verb: str) -> None:
        if self._state not in OPEN_STATES:
            raise refuse(f"{self._who()} is {self._state.value}: there is nothing left to {verb}", "OfferClosed")

    def _submitters(self) -> set[str]:
        people = set()
        for v in self._versions:
            people.add(v.document.submitted_by.name.strip().casefold())
            people.add(v.document.submitted_by.email.strip().casefold())
        return people

    def _check_reviewer(self, reviewer: str) -> None:
        if self._state is not S.UNDER_REVIEW:
            raise refuse(
                f"{self._who()} is {self._state.value}, not UNDER_REVIEW; reviewers decide only offers under review",
                "WrongState",
            )
        if reviewer.strip().casefold() in self._submitters():
            raise refuse(f"{reviewer} submitted this offer and cannot review it", "Conflict")

    def _rate_bounds(self) -> tuple[float, float]:
        zone = self._zone
        assert zone is not None
        return zone.baseline_rate_pct, max(zone.baseline_rate_pct, zone.announced_rate_pct)

    def _check_approve(self, request: Approve) -> None:
        self._check_reviewer(request.reviewer)
        earlier = next((a for a in self._approvals if _same_person(a.reviewer, request.reviewer)), None)
        if earlier is not None:
            raise refuse(
                f"{earlier.reviewer} has already approved {self._who()}; a second reviewer must", "AlreadyApproved"
            )
        if request.rate_pct is not None:
            low, high = self._rate_bounds()
            if not low <= request.rate_pct <= high:
                raise refuse(
                    f"a reviewer may set the rate between {low:g}% and {high:g}% (the announced rate); "
                    f"{request.rate_pct:g}% is outside. Staff can decide otherwise with a reason",
                    "RateOutOfBounds",
                )
            if not (request.reason or "").strip():
                raise refuse("an adjusted rate needs a reason; add --reason", "ReasonRequired")

    def _check_extend(self, request: ExtendReview) -> None:
        if self._state not in (S.UNDER_REVIEW, S.ESCALATED):
            raise refuse(
                f"{self._who()} is {self._state.value}; only an offer UNDER_REVIEW or ESCALATED has a window to extend",
                "WrongState",
            )
        if request.extend_by <= timedelta(0):
            raise refuse("extend the review window by a positive duration, such as 1d", "BadDuration")

    def _check_decide(self) -> None:
        if self._state not in (S.UNDER_REVIEW, S.ESCALATED):
            raise refuse(
                f"{self._who()} is {self._state.value}; staff decide offers UNDER_REVIEW or ESCALATED",
                "WrongState",
            )

    # ---- transitions -------------------------------------------------------------------------

    async def _accept(self, doc: OfferDocument, amend: bool) -> SubmissionReceipt:
        async with self._lock:
            digest = doc.digest()
            if self._check_submission(doc, amend, digest):  # again: the state may have moved while waiting
                return self._receipt(duplicate=True)
            now = workflow.now()
            version = OfferVersion(number=len(self._versions) + 1, digest=digest, received_at=now, document=doc)
            self._versions.append(version)
            self._approvals = []
            self._record(
                f"{doc.submitted_by.name} <{doc.submitted_by.email}>",
                "amended" if amend else "submitted",
                f"version {version.number}",
            )
            self._set_state(S.VALIDATING)
            report = await _quick(VALIDATE_OFFER, ValidateRequest(document=doc, as_of=now.date()), ValidationReport)
            version.report = report
            self._report = report
            if not report.clean:
                self._zone = None
                self._set_state(S.DEFICIENT)
                return self._receipt(duplicate=False)
            self._zone = await _quick(
                PROPOSE_LANDING_ZONE, ProposeRequest(document=doc, partner=self._inp.partner), LandingZone
            )
            self._changes = []
            self._review_deadline = workflow.now() + self._inp.review_window
            self._set_state(S.UNDER_REVIEW)
            return self._receipt(duplicate=False)

    def _receipt(self, duplicate: bool) -> SubmissionReceipt:
        return SubmissionReceipt(
            round_id=self._inp.round_id,
            partner=self._inp.partner.code,
            version=len(self._versions),
            duplicate=duplicate,
            state=self._state,
            report=self._report,
        )

    def _send_back(self, who: str, note: str) -> None:
        """Back to the negotiator, who may amend until the deadline or one review window from now."""
        self._changes = [note]
        self._approvals = []
        self._review_deadline = None
        self._amend_until = max(self._inp.deadline, workflow.now() + self._inp.review_window)
        self._record(who, "requested changes", note)
        self._set_state(S.DEFICIENT)

    def _agree(self) -> None:
        zone = self._zone
        assert zone is not None
        adjusted = [a for a in self._approvals if a.rate_pct is not None]
        if adjusted:
            last = adjusted[-1]
            rate, set_by, reason = last.rate_pct, last.reviewer, last.reason or ""
        else:
            rate, set_by, reason = zone.proposed_rate_pct, "the landing-zone policy", "the policy's proposal"
        assert rate is not None
        self._terms = AgreedTerms(
            landing_zone=zone,
            agreed_rate_pct=rate,
            rate_set_by=set_by,
            rate_reason=reason,
            approvals=list(self._approvals),
            agreed_at=workflow.now(),
        )
        self._review_deadline = None
        self._set_state(S.APPROVED)

    def _due(self) -> datetime | None:
        if self._state is S.INVITED:
            return self._inp.deadline
        if self._state is S.DEFICIENT:
            return self._amend_until
        if self._state is S.UNDER_REVIEW:
            return self._review_deadline
        return None

    def _on_due(self) -> None:
        if self._state in (S.INVITED, S.DEFICIENT):
            what = "no offer was received" if self._state is S.INVITED else "the offer was still deficient"
            self._record("system", "lapsed", f"the time to submit or amend passed and {what}")
            self._set_state(S.LAPSED)
        elif self._state is S.UNDER_REVIEW:
            self._record(
                "system",
                "escalated",
                f"the review window closed with {len(self._approvals)} of {self._inp.approvals_required} approvals",
            )
            self._set_state(S.ESCALATED)

    async def _issue_letter(self) -> None:
        terms, report = self._terms, self._report
        assert terms is not None and report is not None
        version = self._versions[-1]
        self._letter = await workflow.execute_activity(
            RENDER_AND_STORE_LETTER,
            LetterInput(
                round_id=self._inp.round_id,
                partner=self._inp.partner.code,
                partner_name=self._inp.partner.name,
                reference=f"OD/{self._inp.round_id}/{self._inp.partner.code}/v{version.number}",
                letter_date=terms.agreed_at.date(),
                offer_version=version.number,
                offer=version.document,
                report=report,
                terms=terms,
            ),
            result_type=LetterRef,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
        )
        self._record("system", "issued the letter", f"{self._letter.filename}, sha256 {self._letter.sha256}")
        self._set_state(S.LETTER_ISSUED)

    def _record(self, actor: str, action: str, detail: str = "", rate_pct: float | None = None) -> None:
        self._events.append(AuditEvent(at=workflow.now(), actor=actor, action=action, detail=detail, rate_pct=rate_pct))

    def _moved_since(self, revision: int) -> bool:
        return self._revision != revision

    def _touch(self) -> None:
        self._revision += 1

    def _set_state(self, state: OfferState) -> None:
        self._state = state
        self._touch()
        self._upsert_search_attributes()

    def _upsert_search_attributes(self) -> None:
        workflow.upsert_search_attributes(
            [
                OFFER_ROUND.value_set(self._inp.round_id),
                OFFER_PARTNER.value_set(self._inp.partner.code),
                OFFER_STATE.value_set(self._state.value),
                OFFER_REVIEW_DEADLINE.value_set(self._review_deadline)
                if self._review_deadline is not None
                else OFFER_REVIEW_DEADLINE.value_unset(),
            ]
        )
