"""One offer, from invitation to letter: the lifecycle of DESIGN.md as a Temporal workflow.

Every change is an update with a validator, so the caller learns at once whether it was accepted and, if
not, why. Deadlines are durable timers; nothing is approved by a timer. Documents, findings and letters live
in the store; the workflow holds their digests, so its history grows by the same few hundred bytes per
update whatever the size of the offer, and it continues as new long before Temporal's limits.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.names import (
        NOTIFY,
        PROPOSE_LANDING_ZONE,
        RENDER_AND_STORE_LETTER,
        RENDER_STORED_LETTER,
        STORE_AUDIT_CHUNK,
        VALIDATE_OFFER,
        VALIDATE_STORED_OFFER,
    )
    from schemas.document_ref import DocumentRef, reference_for
    from schemas.landing import AgreedTerms, Approval, LandingZone, ProposeRequest
    from schemas.letter import LetterRef, LetterRequest
    from schemas.notice import MAX_NOTICE_FINDINGS, Audience, Notice, NoticeKind, NoticeResult
    from schemas.offer import OfferDocument
    from schemas.offer_state import (
        FINAL_STATES,
        OfferAnswer,
        OfferCard,
        OfferCarry,
        OfferInput,
        OfferOutcome,
        OfferState,
        OfferVersion,
        SubmissionReceipt,
        SubmitOffer,
    )
    from schemas.review import (
        Approve,
        AuditChunk,
        AuditEvent,
        AuditPage,
        Comment,
        ExtendReview,
        Request,
        RequestChanges,
        RetryLetter,
        StaffDecision,
        Withdraw,
    )
    from schemas.validation import (
        Category,
        CategoryStatus,
        Finding,
        ReportSummary,
        Severity,
        ValidateRequest,
        ValidateStoredRequest,
        ValidationOutcome,
        ValidationReport,
        first_findings,
        summarize_report,
    )
    from workflows.names import OFFER_PARTNER, OFFER_REVIEW_DEADLINE, OFFER_ROUND, OFFER_STATE, mail_queue

S = OfferState
OPEN_STATES = frozenset({S.INVITED, S.VALIDATING, S.DEFICIENT, S.UNDER_REVIEW, S.ESCALATED})
QUICK_TIMEOUT = timedelta(seconds=30)
QUICK_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10))
# Validation, the landing zone and audit chunks: a store that is briefly away gets three tries, a bug one.
BOUNDED_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=3,
    non_retryable_error_types=["RuleError", "NotInStoreError", "DamagedObjectError"],
)
LETTER_TIMEOUT = timedelta(minutes=5)
LETTER_HEARTBEAT = timedelta(seconds=20)
"""The render activity heartbeats every few seconds: a worker that dies mid-letter frees it in 20 s, not 5 min."""

# Telling people: a mail server away for an hour (or a day) loses nothing; a worker that dies mid-send frees the
# notice within the heartbeat timeout. They run on the worker's mail queue, never behind letters.
NOTICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5), non_retryable_error_types=[]
)
NOTICE_PATIENCE = timedelta(days=3)
NOTICE_TIMEOUT = timedelta(minutes=2)
NOTICE_HEARTBEAT = timedelta(seconds=10)

# Continue as new well before Temporal's limits (10,240 events / 10 MB warning, 2,000 updates per run).
MAX_RUN_EVENTS = 2_000
MAX_RUN_BYTES = 2_000_000
MAX_RUN_UPDATES = 400

# Workflows started before this patch ran validation and the landing zone as ordinary activities; they replay so.
QUICK_AS_LOCAL = "quick-steps-as-local-activities"
# Offers started before this patch publish no memo and never continue as new; they replay and finish so.
COMPACT = "compact-offers-by-reference"
# Offers started before this patch tell nobody and set no reminders; they replay so.
NOTIFY_PEOPLE = "notify-people"
Q = TypeVar("Q")


async def _quick(activity: str, request: BaseModel, result_type: type[Q]) -> Q:
    """Validation and the landing zone: milliseconds of computation on the worker.

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


async def _bounded(activity: str, request: BaseModel, result_type: type[Q]) -> Q:
    result = await workflow.execute_local_activity(
        activity, request, result_type=result_type, start_to_close_timeout=QUICK_TIMEOUT, retry_policy=BOUNDED_RETRY
    )
    return cast(Q, result)


def refuse(message: str, kind: str) -> ApplicationError:
    """A refusal the caller reads: a sentence, and a type a program can test."""
    return ApplicationError(message, type=kind, non_retryable=True)


def failure_reason(error: BaseException) -> str:
    """The innermost message of an activity failure: what went wrong, without Temporal's wrapping."""
    while isinstance(error, ActivityError) and error.cause is not None:
        error = error.cause
    return getattr(error, "message", None) or str(error) or type(error).__name__


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
        self._report: ReportSummary | None = None
        self._zone: LandingZone | None = None
        self._approvals: list[Approval] = []
        self._changes: list[str] = []
        self._amend_until: datetime = inp.deadline
        self._review_deadline: datetime | None = None
        self._terms: AgreedTerms | None = None
        self._letter: LetterRef | None = None
        self._letter_failure: str | None = None
        self._events: list[AuditEvent] = []
        self._audit_chunks: list[str] = []
        self._run = 1
        self._updates = 0
        self._lock = asyncio.Lock()
        self._compact_mode: bool | None = None
        self._notify_mode: bool | None = None
        self._sending: dict[str, Notice] = {}
        """Notices handed to the notify activity and not yet done: carried into the next run if it continues."""
        self._reminded: list[str] = []
        self._entered_at = workflow.now()
        """When the offer entered its state: a reminder whose time was already past then is not sent."""
        self._published: OfferCard | None = None
        # Documents sent inline by clients older than documents-by-reference, with their reports, for the letter.
        self._inline: dict[str, tuple[OfferDocument, ValidationReport]] = {}
        if inp.carry is not None:
            self._resume(inp.carry)

    def _resume(self, carry: OfferCarry) -> None:
        c = carry.card
        self._state, self._versions, self._report = c.state, list(c.versions), c.report
        self._zone, self._approvals, self._changes = c.landing_zone, list(c.approvals), list(c.changes_requested)
        self._amend_until, self._review_deadline, self._terms = c.amend_until, c.review_deadline, c.terms
        self._letter, self._letter_failure = c.letter, c.letter_failure
        self._audit_chunks, self._run = list(c.audit_chunks), c.run + 1
        self._revision, self._events = carry.revision, list(carry.events)
        self._reminded = list(carry.reminded)
        self._entered_at = carry.entered_at or self._entered_at
        self._published = c.model_copy(update={"run": self._run})

    @workflow.run
    async def run(self, inp: OfferInput) -> OfferOutcome:
        self._compact()
        if inp.carry is None:
            self._record("staff", "invited", f"submissions close at {inp.deadline.isoformat()}")
        elif inp.carry.notices and self._notifying():
            for notice in inp.carry.notices:  # the last run continued before they were done; the key is the same
                self._send(notice)
        self._upsert_search_attributes()
        while True:
            self._publish()
            if self._state in FINAL_STATES:
                break
            if self._continue_due():
                await self._continue_as_new()
                continue
            if self._state is S.APPROVED:
                await self._issue_letter()
                continue
            seen = self._revision
            due = self._due()
            remind = self._reminder_due(due)
            wake = partial(self._moved_since, seen)
            if due is None:
                await workflow.wait_condition(wake)
                continue
            until = remind if remind is not None else due
            remaining = (until - workflow.now()).total_seconds()
            try:
                if remaining <= 0:
                    raise TimeoutError
                await workflow.wait_condition(wake, timeout=remaining)
            except TimeoutError:
                if self._revision == seen:
                    if remind is not None:
                        self._remind(due)
                    else:
                        self._on_due()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await workflow.wait_condition(lambda: not self._sending)  # everyone is told before the offer closes
        if self._compact_mode:
            await self._flush_events()  # so a closed offer's whole trail reads from the store, with no worker
            self._publish()
        return OfferOutcome(
            partner=inp.partner.code, state=self._state, versions=len(self._versions), letter=self._letter
        )

    # ---- submissions -------------------------------------------------------------------------

    @workflow.update
    async def submit(self, request: SubmitOffer) -> SubmissionReceipt:
        return await self._accept(request, amend=False)

    @submit.validator
    def _validate_submit(self, request: SubmitOffer) -> None:
        self._check_fresh(request)
        self._check_submission(_ref_of(request), False)

    @workflow.update
    async def amend(self, request: SubmitOffer) -> SubmissionReceipt:
        return await self._accept(request, amend=True)

    @amend.validator
    def _validate_amend(self, request: SubmitOffer) -> None:
        self._check_fresh(request)
        self._check_submission(_ref_of(request), True)

    @workflow.update
    async def withdraw(self, request: Withdraw) -> OfferAnswer:
        self._updates += 1
        async with self._lock:  # never withdraw under a validation still in flight
            self._check_open("withdraw")
            self._record(request.by, "withdrew", request.reason)
            self._set_state(S.WITHDRAWN)
        return self._answer()

    @withdraw.validator
    def _validate_withdraw(self, request: Withdraw) -> None:
        self._check_fresh(request)
        self._check_open("withdraw")

    # ---- review ------------------------------------------------------------------------------

    @workflow.update
    def approve(self, request: Approve) -> OfferAnswer:
        self._updates += 1
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
        return self._answer()

    @approve.validator
    def _validate_approve(self, request: Approve) -> None:
        self._check_fresh(request)
        self._check_approve(request)

    @workflow.update
    def request_changes(self, request: RequestChanges) -> OfferAnswer:
        self._updates += 1
        self._check_reviewer(request.reviewer)
        self._send_back(request.reviewer, request.note)
        return self._answer()

    @request_changes.validator
    def _validate_request_changes(self, request: RequestChanges) -> None:
        self._check_fresh(request)
        self._check_reviewer(request.reviewer)

    @workflow.update
    def comment(self, request: Comment) -> OfferAnswer:
        self._updates += 1
        self._check_open("comment on")
        self._record(request.reviewer, "commented", request.text)
        self._touch()
        return self._answer()

    @comment.validator
    def _validate_comment(self, request: Comment) -> None:
        self._check_fresh(request)
        self._check_open("comment on")

    # ---- staff -------------------------------------------------------------------------------

    @workflow.update
    def extend_review(self, request: ExtendReview) -> OfferAnswer:
        self._updates += 1
        self._check_extend(request)
        start = max(self._review_deadline or workflow.now(), workflow.now())
        self._review_deadline = start + request.extend_by
        self._record(
            request.by, "extended the review window", f"to {self._review_deadline.isoformat()}. {request.reason}"
        )
        self._set_state(S.UNDER_REVIEW)
        return self._answer()

    @extend_review.validator
    def _validate_extend_review(self, request: ExtendReview) -> None:
        self._check_fresh(request)
        self._check_extend(request)

    @workflow.update
    def decide(self, request: StaffDecision) -> OfferAnswer:
        self._updates += 1
        self._check_decide(request)
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
        return self._answer()

    @decide.validator
    def _validate_decide(self, request: StaffDecision) -> None:
        self._check_fresh(request)
        self._check_decide(request)

    @workflow.update
    def retry_letter(self, request: RetryLetter) -> OfferAnswer:
        self._updates += 1
        self._check_retry_letter()
        self._record(request.by, "retried the letter", request.reason)
        self._letter_failure = None
        self._set_state(S.APPROVED)
        return self._answer()

    @retry_letter.validator
    def _validate_retry_letter(self, request: RetryLetter) -> None:
        self._check_fresh(request)
        self._check_retry_letter()

    # ---- reading: small answers; the full view is assembled outside from these and the store ----

    @workflow.query
    def card(self) -> OfferCard:
        return OfferCard(
            round_id=self._inp.round_id,
            partner=self._inp.partner.code,
            partner_name=self._inp.partner.name,
            state=self._state,
            deadline=self._inp.deadline,
            amend_until=self._amend_until,
            review_deadline=self._review_deadline,
            approvals_required=self._inp.approvals_required,
            versions=list(self._versions),
            report=self._report,
            landing_zone=self._zone,
            approvals=list(self._approvals),
            changes_requested=list(self._changes),
            terms=self._terms,
            letter=self._letter,
            letter_failure=self._letter_failure,
            audit_chunks=list(self._audit_chunks),
            run=self._run,
        )

    @workflow.query
    def audit(self) -> AuditPage:
        """The trail: chunks in the store, then this run's events (bounded by the run's own limits)."""
        return AuditPage(chunks=list(self._audit_chunks), events=list(self._events))

    def _answer(self) -> OfferAnswer:
        return OfferAnswer(
            round_id=self._inp.round_id,
            partner=self._inp.partner.code,
            state=self._state,
            version=len(self._versions),
            approvals=len(self._approvals),
            approvals_required=self._inp.approvals_required,
            review_deadline=self._review_deadline,
            amend_until=self._amend_until,
        )

    # ---- checks: each is called by the validator and again by the handler ---------------------

    def _who(self) -> str:
        return f"{self._inp.partner.name}'s offer in round {self._inp.round_id}"

    def _check_fresh(self, request: Request) -> None:
        """Validators only: a request its sender gave up on is refused, never applied behind their back."""
        now = workflow.now()
        if request.expires_at is not None and now > request.expires_at:
            raise refuse(
                f"this request reached {self._who()} at {now.isoformat(timespec='seconds')}, after its sender "
                f"stopped waiting ({request.expires_at.isoformat(timespec='seconds')}); it was not applied. "
                "Send it again",
                "Stale",
            )

    def _check_submission(self, ref: DocumentRef, amend: bool) -> bool:
        """Refuses what may not be accepted; True when the document repeats the latest version."""
        inp = self._inp
        if ref.round_id != inp.round_id or ref.partner != inp.partner.code:
            raise refuse(
                f"this document is for round {ref.round_id}, partner {ref.partner}, but was sent to round "
                f"{inp.round_id}, partner {inp.partner.code}; fix round_id and partner in the file",
                "WrongOffer",
            )
        if self._versions and ref.digest == self._versions[-1].digest:
            latest = self._versions[-1].report
            if latest is None or latest.failure is None:
                return True  # the same document again: answered with the existing version, not a second offer
        if self._state not in OPEN_STATES:
            closed = f"; submissions closed at {inp.deadline.isoformat()}" if self._state is S.LAPSED else ""
            raise refuse(f"{self._who()} is {self._state.value}: it takes no more submissions{closed}", "OfferClosed")
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

    def _submitted(self, account: str) -> bool:
        """Whether `account` sent any version of this offer.

        Only the accounts recorded with the versions count, never the contact named inside a document: a
        negotiator cannot lock a reviewer out by typing the reviewer's name into `submitted_by`. Versions
        received before accounts were recorded have none, and lock nobody out.
        """
        return any(v.submitted_by is not None and _same_person(v.submitted_by, account) for v in self._versions)

    def _check_reviewer(self, reviewer: str) -> None:
        if self._state is not S.UNDER_REVIEW:
            raise refuse(
                f"{self._who()} is {self._state.value}, not UNDER_REVIEW; reviewers decide only offers under review",
                "WrongState",
            )
        if self._submitted(reviewer):
            raise refuse(f"{reviewer.strip()} submitted this offer and cannot review it", "Conflict")

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

    def _check_decide(self, request: StaffDecision) -> None:
        if self._state not in (S.UNDER_REVIEW, S.ESCALATED):
            raise refuse(
                f"{self._who()} is {self._state.value}; staff decide offers UNDER_REVIEW or ESCALATED",
                "WrongState",
            )
        if self._submitted(request.by):
            raise refuse(f"{request.by.strip()} submitted this offer and cannot decide it", "Conflict")

    def _check_retry_letter(self) -> None:
        if self._state is not S.LETTER_FAILED:
            raise refuse(
                f"{self._who()} is {self._state.value}; only a letter that failed (LETTER_FAILED) is retried",
                "WrongState",
            )

    # ---- transitions -------------------------------------------------------------------------

    async def _accept(self, request: SubmitOffer, amend: bool) -> SubmissionReceipt:
        self._updates += 1
        async with self._lock:
            ref = _ref_of(request)
            if self._check_submission(ref, amend):  # again: the state may have moved while waiting
                return self._receipt(duplicate=True, findings=[])
            now = workflow.now()
            version = OfferVersion(
                number=len(self._versions) + 1,
                digest=ref.digest,
                size=ref.size,
                received_at=now,
                summary=ref.summary,
                submitted_by=request.by,
            )
            self._versions.append(version)
            self._approvals = []
            contact = f"{ref.summary.submitted_by.name} <{ref.summary.submitted_by.email}>"
            verb = "amended" if amend else "submitted"
            if request.by is None:  # a submission from before accounts were recorded: the trail it always had
                self._record(contact, verb, f"version {version.number}")
            else:
                self._record(request.by, verb, f"version {version.number}, contact: {contact}")
            self._set_state(S.VALIDATING)
            if request.document is not None:
                report = await _quick(
                    VALIDATE_OFFER, ValidateRequest(document=request.document, as_of=now.date()), ValidationReport
                )
                self._inline[ref.digest] = (request.document, report)
                summary, findings = summarize_report(report, None), first_findings(report)
            else:
                summary, findings = await self._validate(ref, version.number)
            version.report = summary
            self._report = summary
            if not summary.clean:
                self._zone = None
                self._set_state(S.DEFICIENT)
                self._notify(NoticeKind.DEFICIENT, findings=findings)
                return self._receipt(duplicate=False, findings=findings)
            propose = ProposeRequest(
                document=request.document, ref=None if request.document else ref, partner=self._inp.partner
            )
            if request.document is not None:
                self._zone = await _quick(PROPOSE_LANDING_ZONE, propose, LandingZone)
            else:
                try:
                    self._zone = await _bounded(PROPOSE_LANDING_ZONE, propose, LandingZone)
                except (ActivityError, ApplicationError) as e:
                    summary = self._failed(version, "the landing zone could not be computed", e)
                    self._set_state(S.DEFICIENT)
                    self._notify(NoticeKind.DEFICIENT, findings=[_failure_finding(summary)])
                    return self._receipt(duplicate=False, findings=[_failure_finding(summary)])
            self._changes = []
            self._review_deadline = workflow.now() + self._inp.review_window
            self._set_state(S.UNDER_REVIEW)
            self._notify(NoticeKind.AMENDED if version.number > 1 else NoticeKind.IN_REVIEW)
            return self._receipt(duplicate=False, findings=findings)

    async def _validate(self, ref: DocumentRef, number: int) -> tuple[ReportSummary, list[Finding]]:
        """Validation never hangs an offer: if it fails after its retries, the offer gets a finding that says so."""
        request = ValidateStoredRequest(ref=ref, as_of=workflow.now().date(), reference=self._reference(number))
        version = self._versions[-1]
        try:
            outcome = await _bounded(VALIDATE_STORED_OFFER, request, ValidationOutcome)
        except (ActivityError, ApplicationError) as e:  # a local activity's failure arrives unwrapped
            summary = self._failed(version, "validation could not check this version", e)
            return summary, [_failure_finding(summary)]
        return outcome.summary, outcome.findings

    def _reference(self, number: int) -> str:
        return f"{workflow.info().workflow_id}#v{number}"

    def _failed(self, version: OfferVersion, what: str, error: BaseException) -> ReportSummary:
        reason = failure_reason(error)
        summary = ReportSummary(
            digest=None,
            categories={c: CategoryStatus.INVALID for c in Category},
            error_count=1,
            warning_count=0,
            failure=f"{what} (reference {self._reference(version.number)}): {reason}. Nothing is lost: staff can "
            "find the reference in the worker's log; once the cause is fixed, send the same document again",
        )
        version.report = summary
        self._report = summary
        self._zone = None
        self._record("system", "validation failed", summary.failure or "")
        return summary

    def _receipt(self, duplicate: bool, findings: list[Finding]) -> SubmissionReceipt:
        return SubmissionReceipt(
            round_id=self._inp.round_id,
            partner=self._inp.partner.code,
            version=len(self._versions),
            duplicate=duplicate,
            state=self._state,
            report=self._report,
            findings=findings,
        )

    def _send_back(self, who: str, note: str) -> None:
        """Back to the negotiator, who may amend until the deadline or one review window from now."""
        self._changes = [note]
        self._approvals = []
        self._review_deadline = None
        self._amend_until = max(self._inp.deadline, workflow.now() + self._inp.review_window)
        self._record(who, "requested changes", note)
        self._set_state(S.DEFICIENT)
        self._notify(NoticeKind.SENT_BACK, note=note)

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
            self._notify(NoticeKind.LAPSED, note=f"the time to submit or amend passed and {what}")
        elif self._state is S.UNDER_REVIEW:
            why = f"the review window closed with {len(self._approvals)} of {self._inp.approvals_required} approvals"
            self._record("system", "escalated", why)
            self._set_state(S.ESCALATED)
            self._notify(NoticeKind.ESCALATED, note=why)

    async def _issue_letter(self) -> None:
        """Render and store the letter; after its retries a failure is LETTER_FAILED, for staff to see and retry."""
        terms, report = self._terms, self._report
        assert terms is not None and report is not None
        version = self._versions[-1]
        inp = self._inp
        retry = RetryPolicy(
            initial_interval=inp.letter_first_retry,
            maximum_interval=timedelta(minutes=1),
            maximum_attempts=inp.letter_attempts,
            non_retryable_error_types=["LetterError", "NotInStoreError", "DamagedObjectError"],
        )
        inline = self._inline.get(version.digest)
        assert inline is not None or version.summary is not None
        request = LetterRequest(
            round_id=inp.round_id,
            partner=inp.partner.code,
            partner_name=inp.partner.name,
            reference=f"OD/{inp.round_id}/{inp.partner.code}/v{version.number}",
            letter_date=terms.agreed_at.date(),
            offer_version=version.number,
            offer=reference_for(inline[0])
            if inline is not None
            else DocumentRef(
                digest=version.digest,
                size=version.size,
                round_id=inp.round_id,
                partner=inp.partner.code,
                summary=version.summary,
            ),
            report_digest=report.digest,
            terms=terms,
        )
        try:
            if inline is not None:  # an offer from before documents went by reference: everything inline
                self._letter = await workflow.execute_activity(
                    RENDER_AND_STORE_LETTER,
                    request.with_content(*inline),
                    result_type=LetterRef,
                    start_to_close_timeout=LETTER_TIMEOUT,
                    retry_policy=retry,
                )
            else:
                self._letter = await workflow.execute_activity(
                    RENDER_STORED_LETTER,
                    request,
                    result_type=LetterRef,
                    start_to_close_timeout=LETTER_TIMEOUT,
                    heartbeat_timeout=LETTER_HEARTBEAT,
                    retry_policy=retry,
                )
        except (ActivityError, ApplicationError) as e:
            self._letter_failure = failure_reason(e)
            self._record("system", "letter failed", self._letter_failure)
            self._set_state(S.LETTER_FAILED)
            self._notify(NoticeKind.LETTER_FAILED, note=self._letter_failure)
            return
        self._record("system", "issued the letter", f"{self._letter.filename}, sha256 {self._letter.sha256}")
        self._set_state(S.LETTER_ISSUED)
        self._notify(NoticeKind.LETTER_READY)

    # ---- telling people ----------------------------------------------------------------------

    def _notifying(self) -> bool:
        if self._notify_mode is None:
            self._notify_mode = workflow.patched(NOTIFY_PEOPLE)
        return self._notify_mode

    def _notify(
        self, kind: NoticeKind, *, note: str = "", findings: list[Finding] | None = None, key: str | None = None
    ) -> None:
        """Tell the event's audience, without waiting: the notify activity retries until the mail server takes it."""
        if not self._notifying():
            return
        info = workflow.info()
        report = self._report if kind is NoticeKind.DEFICIENT else None
        exclude: list[str] = []
        if kind.audience is Audience.REVIEWERS:  # whoever submitted may not review; who approved has decided
            exclude = [v.submitted_by for v in self._versions if v.submitted_by is not None]
            if kind is NoticeKind.REMIND_REVIEW:
                exclude += [a.reviewer for a in self._approvals]
        notice = Notice(
            key=key or f"{info.workflow_id}@{info.first_execution_run_id[:8]}/{kind.value}/{self._revision}",
            kind=kind,
            round_id=self._inp.round_id,
            partner=self._inp.partner.code,
            partner_name=self._inp.partner.name,
            version=len(self._versions),
            at=workflow.now(),
            due=self._due(),
            note=note,
            categories=dict(report.categories) if report is not None else {},
            error_count=report.error_count if report is not None else 0,
            findings=(findings or [])[:MAX_NOTICE_FINDINGS],
            exclude=exclude,
        )
        self._send(notice)

    def _send(self, notice: Notice) -> None:
        self._sending[notice.key] = notice
        asyncio.create_task(self._deliver(notice))  # noqa: RUF006  (tracked in self._sending until it ends)

    async def _deliver(self, notice: Notice) -> None:
        try:
            await workflow.execute_activity(
                NOTIFY,
                notice,
                result_type=NoticeResult,
                task_queue=mail_queue(workflow.info().task_queue),
                start_to_close_timeout=NOTICE_TIMEOUT,
                heartbeat_timeout=NOTICE_HEARTBEAT,
                schedule_to_close_timeout=NOTICE_PATIENCE,
                retry_policy=NOTICE_RETRY,
            )
        except ActivityError as e:
            self._record("system", "could not send a notice", f"{notice.kind.value}: {failure_reason(e)}")
        finally:
            self._sending.pop(notice.key, None)

    def _reminder_kind(self) -> NoticeKind | None:
        if self._state in (S.INVITED, S.DEFICIENT):
            return NoticeKind.REMIND_SUBMIT
        if self._state is S.UNDER_REVIEW:
            return NoticeKind.REMIND_REVIEW
        return None

    def _reminder_key(self, kind: NoticeKind, due: datetime) -> str:
        info = workflow.info()
        return f"{info.workflow_id}@{info.first_execution_run_id[:8]}/{kind.value}/{due.isoformat()}"

    def _reminder_due(self, due: datetime | None) -> datetime | None:
        """When to remind before `due`: a durable timer, once per deadline, and only if the lead time fits.

        A reminder whose time had passed when the offer entered its state is not sent: the notice of that
        state named the deadline already, and a round opened hours before its deadline is not a reminder.
        """
        kind = self._reminder_kind()
        lead = self._inp.remind_before
        if due is None or kind is None or lead <= timedelta(0) or not self._notifying():
            return None
        at = due - lead
        if at <= self._entered_at or self._reminder_key(kind, due) in self._reminded:
            return None
        return at

    def _remind(self, due: datetime) -> None:
        kind = self._reminder_kind()
        assert kind is not None
        key = self._reminder_key(kind, due)
        self._reminded = [*self._reminded[-19:], key]
        self._notify(kind, key=key)

    # ---- bounded runs ------------------------------------------------------------------------

    def _compact(self) -> bool:
        if self._compact_mode is None:
            self._compact_mode = workflow.patched(COMPACT)
        return self._compact_mode

    def _continue_due(self) -> bool:
        if not self._compact_mode:
            return False
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= MAX_RUN_EVENTS
            or info.get_current_history_size() >= MAX_RUN_BYTES
            or self._updates >= MAX_RUN_UPDATES
        )

    async def _continue_as_new(self) -> None:
        """Carry the compact state into a new run: the trail so far goes to the store, handlers finish first."""
        await self._flush_events()
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._state in FINAL_STATES:
            return  # the run ends on its own
        card = self.card()
        carry = OfferCarry(
            card=card,
            revision=self._revision,
            events=self._events,
            notices=list(self._sending.values()),
            reminded=self._reminded,
            entered_at=self._entered_at,
        )
        workflow.continue_as_new(self._inp.model_copy(update={"carry": carry}), memo={"card": card})

    async def _flush_events(self) -> None:
        if not self._events:
            return
        batch = list(self._events)
        chunk = AuditChunk(round_id=self._inp.round_id, partner=self._inp.partner.code, events=batch)
        try:
            digest = await _bounded(STORE_AUDIT_CHUNK, chunk, str)
        except (ActivityError, ApplicationError) as e:
            # The store is away: keep the events in the workflow and try again at the next chance.
            workflow.logger.warning("could not file %d audit events to the store: %s", len(batch), failure_reason(e))
            return
        del self._events[: len(batch)]
        self._audit_chunks.append(digest)

    def _publish(self) -> None:
        """The card as memo: what a reader sees with no worker running, and what lists show."""
        if not self._compact():
            return
        card = self.card()
        if card != self._published:
            workflow.upsert_memo({"card": card})
            self._published = card

    def _record(self, actor: str, action: str, detail: str = "", rate_pct: float | None = None) -> None:
        self._events.append(AuditEvent(at=workflow.now(), actor=actor, action=action, detail=detail, rate_pct=rate_pct))

    def _moved_since(self, revision: int) -> bool:
        return self._revision != revision or self._continue_due()

    def _touch(self) -> None:
        self._revision += 1

    def _set_state(self, state: OfferState) -> None:
        self._state = state
        self._entered_at = workflow.now()
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


def _ref_of(request: SubmitOffer) -> DocumentRef:
    if request.ref is not None:
        return request.ref
    if request.document is not None:
        return reference_for(request.document)
    raise refuse("a submission names its document: store it and send its reference", "NoDocument")


def _failure_finding(summary: ReportSummary) -> Finding:
    return Finding(category=None, severity=Severity.ERROR, path="(document)", message=summary.failure or "")
