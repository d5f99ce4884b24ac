"""One offer's memory and the moves between its states: what the update handlers and the steps change it through.

Every move is recorded in the audit trail with who made it. A change of state also upserts the search attributes
that lists and dashboards filter on, and tells the people the new state waits on. The offer's card, published as
the workflow's memo, is what a reader sees with no worker running.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.answer import Accept, CloseOffer, Reopen
    from schemas.document_ref import DocumentRef
    from schemas.notice import NoticeKind
    from schemas.offer import OfferDocument
    from schemas.offer_state import (
        Closing,
        Deal,
        IssuedLetter,
        OfferAnswer,
        OfferCard,
        OfferInput,
        OfferMemory,
        OfferOutcome,
        OfferState,
        OfferVersion,
        SubmissionReceipt,
    )
    from schemas.review import (
        Approve,
        AuditEvent,
        AuditPage,
        Comment,
        ExtendReview,
        RetryLetter,
        StaffDecision,
        Withdraw,
    )
    from schemas.validation import Category, CategoryStatus, Finding, ReportSummary, Severity, ValidationReport
    from workflows.names import OFFER_PARTNER, OFFER_REVIEW_DEADLINE, OFFER_ROUND, OFFER_STATE

from workflows.offer_notices import Notices
from workflows.offer_rules import agreed_terms, approval, failure_reason
from workflows.offer_rules import due as due_of
from workflows.patches import COMPACT, NEGOTIATE, legacy, patched

S = OfferState
# Continue as new well before Temporal's limits (10,240 events / 10 MB warning, 2,000 updates per run).
MAX_RUN_EVENTS = 2_000
MAX_RUN_BYTES = 2_000_000
MAX_RUN_UPDATES = 400


class Offer:
    """The offer of one workflow run: its input, its memory, and what this run keeps besides."""

    def __init__(self, inp: OfferInput) -> None:
        self.inp = inp
        now = workflow.now()
        self.memory = OfferMemory.invited(inp, now) if inp.carry is None else OfferMemory.resumed(inp.carry, now)
        self.notices = Notices(self.record)
        self.updates = 0
        """The updates this run took: it continues as new well before Temporal's limit."""
        self.inline: dict[str, tuple[OfferDocument, ValidationReport]] = {}
        """Documents sent inline by clients older than documents-by-reference, with their reports, for the letter."""
        self._compact_mode: bool | None = None
        self._negotiates: bool | None = None
        self.lean = not legacy()
        """An offer of the type since issue 26: search attributes and memo once per workflow task, in publish."""
        first = inp.carry is None and self.lean  # its round started it with its card as memo
        self._published: OfferCard | None = self.card() if inp.carry is not None or first else None
        """The card as last published; a new run starts from the card its predecessor (or its round) published."""
        self._searched: tuple[str, datetime | None] | None = (S.INVITED.value, None) if first else None
        """The search attributes as last upserted (state, review deadline); the round set the first ones."""

    @property
    def state(self) -> OfferState:
        return self.memory.state

    def compact(self) -> bool:
        """Offers started before COMPACT publish no memo and never continue as new; they replay and finish so."""
        if self._compact_mode is None:
            self._compact_mode = patched(COMPACT)
        return self._compact_mode

    def negotiates(self) -> bool:
        """Asked when a letter is issued: offers whose letter came before NEGOTIATE ended at LETTER_ISSUED (no
        response window), and replay so; every later letter awaits the partner's answer."""
        if self._negotiates is None:
            self._negotiates = patched(NEGOTIATE)
        return self._negotiates

    def ended(self) -> bool:
        """Whether the run is over: a final state, save an unanswered letter that staff may still reopen."""
        m = self.memory
        if m.state is S.UNANSWERED:
            return m.closing is not None
        return m.final

    # ---- views: small; the full view is assembled outside the workflow from these and the store ----------

    def card(self) -> OfferCard:
        return self.memory.card(self.inp)

    def audit(self) -> AuditPage:
        """The trail: chunks in the store, then this run's events (bounded by the run's own limits)."""
        return AuditPage(chunks=list(self.memory.audit_chunks), events=list(self.memory.events))

    def answer(self) -> OfferAnswer:
        m = self.memory
        return OfferAnswer(
            round_id=self.inp.round_id,
            partner=self.inp.partner.code,
            state=m.state,
            version=len(m.versions),
            approvals=len(m.approvals),
            approvals_required=self.inp.approvals_required,
            review_deadline=m.review_deadline,
            amend_until=m.amend_until,
            respond_by=m.respond_by,
            letters=len(m.letters),
        )

    def receipt(self, duplicate: bool, findings: list[Finding]) -> SubmissionReceipt:
        return SubmissionReceipt(
            round_id=self.inp.round_id,
            partner=self.inp.partner.code,
            version=len(self.memory.versions),
            duplicate=duplicate,
            state=self.memory.state,
            report=self.memory.report,
            findings=findings,
        )

    def outcome(self) -> OfferOutcome:
        m = self.memory
        return OfferOutcome(
            partner=self.inp.partner.code,
            state=m.state,
            versions=len(m.versions),
            letter=m.letter,
            letters=len(m.letters),
        )

    def publish(self) -> None:
        """The card as memo: what a reader sees with no worker running, and what lists show.

        A lean offer also upserts its search attributes here, only if they changed: the run publishes once the
        offer has settled after a workflow task's updates, so a submission that passes through VALIDATING to
        UNDER_REVIEW in one task upserts once, and an approval that changes no state upserts nothing.
        """
        if self.lean:
            searched = (self.memory.state.value, self.memory.review_deadline)
            if searched != self._searched:
                self.upsert_search_attributes()
                self._searched = searched
        if not self.compact():
            return
        card = self.card()
        if card != self._published:
            workflow.upsert_memo({"card": card})
            self._published = card

    # ---- bookkeeping -------------------------------------------------------------------------------------

    def record(self, actor: str, action: str, detail: str = "", rate_pct: float | None = None) -> None:
        self.memory.events.append(
            AuditEvent(at=workflow.now(), actor=actor, action=action, detail=detail, rate_pct=rate_pct)
        )

    @property
    def revision(self) -> int:
        """Moves so far: each update that changes the offer counts one."""
        return self.memory.revision

    def touch(self) -> None:
        self.memory.revision += 1

    def moved_since(self, revision: int) -> bool:
        return self.memory.revision != revision or self.continue_due()

    def continue_due(self) -> bool:
        """Whether this run is long enough to continue as new (offers from before COMPACT never do)."""
        if not self._compact_mode:
            return False
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= MAX_RUN_EVENTS
            or info.get_current_history_size() >= MAX_RUN_BYTES
            or self.updates >= MAX_RUN_UPDATES
        )

    def set_state(self, state: OfferState) -> None:
        self.memory.state = state
        self.memory.entered_at = workflow.now()
        self.touch()
        if not self.lean:  # a lean offer upserts once per task, in publish
            self.upsert_search_attributes()

    def upsert_search_attributes(self) -> None:
        deadline = self.memory.review_deadline
        workflow.upsert_search_attributes(
            [
                OFFER_ROUND.value_set(self.inp.round_id),
                OFFER_PARTNER.value_set(self.inp.partner.code),
                OFFER_STATE.value_set(self.memory.state.value),
                OFFER_REVIEW_DEADLINE.value_set(deadline)
                if deadline is not None
                else OFFER_REVIEW_DEADLINE.value_unset(),
            ]
        )

    # ---- telling people ----------------------------------------------------------------------------------

    def notify(
        self, kind: NoticeKind, *, note: str = "", findings: list[Finding] | None = None, key: str | None = None
    ) -> None:
        self.notices.tell(self.inp, self.memory, kind, note=note, findings=findings, key=key)

    def due(self) -> datetime | None:
        return due_of(self.inp, self.memory)

    def reminder_due(self, due: datetime | None) -> datetime | None:
        return self.notices.reminder_due(self.inp, self.memory, due)

    def remind(self, due: datetime) -> None:
        self.notices.remind(self.inp, self.memory, due)

    # ---- moves -------------------------------------------------------------------------------------------

    def add_version(self, ref: DocumentRef, by: str | None, amend: bool) -> OfferVersion:
        """A new version, received now and not yet validated: approvals of the last one no longer count.

        One sent while a letter awaits an answer is a counter-offer: the answer to that letter. It goes through
        validation and review as an amendment does; if deficient, it may be amended for one review window.
        """
        m = self.memory
        countering = m.awaits_answer
        if countering:
            m.respond_by = None
            m.amend_until = max(self.inp.deadline, workflow.now() + self.inp.review_window)
        version = OfferVersion(
            number=len(m.versions) + 1,
            digest=ref.digest,
            size=ref.size,
            received_at=workflow.now(),
            summary=ref.summary,
            submitted_by=by,
        )
        m.versions.append(version)
        m.approvals = []
        contact = f"{ref.summary.submitted_by.name} <{ref.summary.submitted_by.email}>"
        verb = "countered" if countering else "amended" if amend else "submitted"
        if countering:
            self.record(by or contact, verb, f"version {version.number} answers letter {len(m.letters)}")
        elif by is None:  # a submission from before accounts were recorded: the trail it always had
            self.record(contact, verb, f"version {version.number}")
        else:
            self.record(by, verb, f"version {version.number}, contact: {contact}")
        self.set_state(S.VALIDATING)
        return version

    def validated(self, version: OfferVersion, summary: ReportSummary) -> None:
        version.report = summary
        self.memory.report = summary

    def deficient(self, findings: list[Finding]) -> None:
        self.memory.landing_zone = None
        self.set_state(S.DEFICIENT)
        self.notify(NoticeKind.DEFICIENT, findings=findings)

    def in_review(self, version: OfferVersion) -> None:
        m = self.memory
        m.changes_requested = []
        m.review_deadline = workflow.now() + self.inp.review_window
        self.set_state(S.UNDER_REVIEW)
        if m.letters and version.number > m.letters[-1].version:
            self.notify(NoticeKind.COUNTERED)
        else:
            self.notify(NoticeKind.AMENDED if version.number > 1 else NoticeKind.IN_REVIEW)

    def failed(self, version: OfferVersion, what: str, error: BaseException) -> ReportSummary:
        """Validation or the landing zone failed after its retries: a finding that says so, never a hung offer."""
        reason = failure_reason(error)
        summary = ReportSummary(
            digest=None,
            categories={c: CategoryStatus.INVALID for c in Category},
            error_count=1,
            warning_count=0,
            failure=f"{what} (reference {reference(version.number)}): {reason}. Nothing is lost: staff can "
            "find the reference in the worker's log; once the cause is fixed, send the same document again",
        )
        self.validated(version, summary)
        self.memory.landing_zone = None
        self.record("system", "validation failed", summary.failure or "")
        return summary

    def withdraw(self, request: Withdraw) -> None:
        self.record(request.by, "withdrew", request.reason)
        self.set_state(S.WITHDRAWN)

    def approve(self, request: Approve) -> None:
        """An approval of the latest version (the rules refused one of an earlier version); the quorum counts
        approvals of this version only, since a new version starts with none (add_version)."""
        given = approval(request, self.memory, workflow.now())
        self.memory.approvals.append(given)
        rate = f", rate {request.rate_pct:g}%: {request.reason}" if request.rate_pct is not None else ""
        self.record(request.reviewer, "approved", f"version {given.version}{rate}", rate_pct=request.rate_pct)
        if len(self.memory.approvals) >= self.inp.approvals_required:
            self.agree()
        else:
            self.touch()

    def comment(self, request: Comment) -> None:
        self.record(request.reviewer, "commented", request.text)
        self.touch()

    def extend_review(self, request: ExtendReview) -> None:
        m = self.memory
        start = max(m.review_deadline or workflow.now(), workflow.now())
        m.review_deadline = start + request.extend_by
        self.record(request.by, "extended the review window", f"to {m.review_deadline.isoformat()}. {request.reason}")
        self.set_state(S.UNDER_REVIEW)

    def decide(self, request: StaffDecision) -> None:
        if request.decision == "request_changes":
            self.send_back(request.by, request.reason)
        else:
            given = approval(request, self.memory, workflow.now())
            self.memory.approvals.append(given)
            self.record(request.by, "decided: approve", f"version {given.version}: {request.reason}", request.rate_pct)
            self.agree()

    def retry_letter(self, request: RetryLetter) -> None:
        self.record(request.by, "retried the letter", request.reason)
        self.memory.letter_failure = None
        self.set_state(S.APPROVED)

    def send_back(self, who: str, note: str) -> None:
        """Back to the negotiator, who may amend until the deadline or one review window from now."""
        m = self.memory
        m.changes_requested = [note]
        m.approvals = []
        m.review_deadline = None
        m.amend_until = max(self.inp.deadline, workflow.now() + self.inp.review_window)
        self.record(who, "requested changes", note)
        self.set_state(S.DEFICIENT)
        self.notify(NoticeKind.SENT_BACK, note=note)

    def agree(self) -> None:
        self.memory.terms = agreed_terms(self.memory, workflow.now())
        self.memory.review_deadline = None
        self.set_state(S.APPROVED)

    def on_due(self) -> None:
        """Nobody moved the offer before its time: it lapses, or its review is escalated to staff."""
        state = self.memory.state
        if state in (S.INVITED, S.DEFICIENT):
            what = "no offer was received" if state is S.INVITED else "the offer was still deficient"
            self.record("system", "lapsed", f"the time to submit or amend passed and {what}")
            self.set_state(S.LAPSED)
            self.notify(NoticeKind.LAPSED, note=f"the time to submit or amend passed and {what}")
        elif self.memory.awaits_answer:
            why = f"letter {len(self.memory.letters)} was not answered by {due_text(self.memory.respond_by)}"
            self.record("system", "went unanswered", why)
            self.set_state(S.UNANSWERED)
            self.notify(NoticeKind.UNANSWERED, note=why)
        elif state is S.UNDER_REVIEW:
            approvals = len(self.memory.approvals)
            why = f"the review window closed with {approvals} of {self.inp.approvals_required} approvals"
            self.record("system", "escalated", why)
            self.set_state(S.ESCALATED)
            self.notify(NoticeKind.ESCALATED, note=why)

    def letter_issued(self) -> None:
        """The letter is stored: kept with every earlier one, and (since NEGOTIATE) awaiting the partner's answer."""
        m = self.memory
        letter = m.letter
        assert letter is not None
        awaiting = self.negotiates()
        now = workflow.now()
        number = len(m.letters) + 1
        m.letters.append(
            IssuedLetter(number=number, version=m.versions[-1].number, issued_at=now, ref=letter, terms=m.terms)
        )
        self.record("system", "issued the letter", f"letter {number}: {letter.filename}, sha256 {letter.sha256}")
        if awaiting:
            m.respond_by = now + self.inp.respond_within
        self.set_state(S.LETTER_ISSUED)
        self.notify(NoticeKind.AWAITS_ANSWER if awaiting else NoticeKind.LETTER_READY)

    # ---- the partner's answer ----------------------------------------------------------------------------

    def accept(self, request: Accept) -> None:
        """The latest letter's terms become the deal (the rules refused any other letter)."""
        m = self.memory
        letter = m.letters[-1]
        terms = letter.terms or m.terms
        assert terms is not None
        m.deal = Deal(
            letter=letter.number,
            version=letter.version,
            rate_pct=terms.agreed_rate_pct,
            accepted_by=request.by,
            accepted_at=workflow.now(),
            on_behalf=request.on_behalf,
            reason=request.reason,
        )
        what = f"letter {letter.number} (version {letter.version}) at {terms.agreed_rate_pct:g}%"
        if request.on_behalf:
            self.record(request.by, "accepted for the partner", f"{what}: {request.reason}", terms.agreed_rate_pct)
        else:
            self.record(request.by, "accepted", what, terms.agreed_rate_pct)
        self.set_state(S.ACCEPTED)
        self.notify(NoticeKind.ACCEPTED, note=f"{request.by} accepted {what}")

    def reopen(self, request: Reopen) -> None:
        m = self.memory
        m.respond_by = workflow.now() + request.respond_within
        detail = f"letter {len(m.letters)} awaits an answer until {m.respond_by.isoformat()}: {request.reason}"
        self.record(request.by, "reopened", detail)
        self.set_state(S.LETTER_ISSUED)
        self.notify(NoticeKind.REOPENED, note=request.reason)

    def close(self, request: CloseOffer) -> None:
        """It stays UNANSWERED; the run ends."""
        self.memory.closing = Closing(by=request.by, at=workflow.now(), reason=request.reason)
        self.record(request.by, "closed", request.reason or f"letter {len(self.memory.letters)} went unanswered")
        self.touch()

    def letter_failed(self, reason: str) -> None:
        self.memory.letter_failure = reason
        self.record("system", "letter failed", reason)
        self.set_state(S.LETTER_FAILED)
        self.notify(NoticeKind.LETTER_FAILED, note=reason)


def due_text(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment is not None else "its time"


def reference(number: int) -> str:
    """How the worker's log names one version of this offer."""
    return f"{workflow.info().workflow_id}#v{number}"


def failure_finding(summary: ReportSummary) -> Finding:
    return Finding(category=None, severity=Severity.ERROR, path="(document)", message=summary.failure or "")
