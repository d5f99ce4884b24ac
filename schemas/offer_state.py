"""The state of one offer as its workflow keeps it, the messages that change it, and the views of it.

The workflow keeps an OfferMemory, from which it derives an OfferCard: bounded in size whatever the documents'
size, published as the workflow's memo so it can be read with no worker running, and an OfferCarry when it
continues as new. The full view (OfferStatus) is assembled outside the
workflow from the card, the store (findings, audit chunks) and Temporal's own status of the workflow.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from schemas.answer import RESPOND_WITHIN
from schemas.document_ref import DocumentRef, DocumentSummary
from schemas.landing import AgreedTerms, Approval, LandingZone
from schemas.letter import LetterRef
from schemas.notice import Notice
from schemas.offer import OfferDocument
from schemas.partner import PartnerReference
from schemas.review import AuditEvent, Request
from schemas.validation import Finding, ReportSummary, ValidationReport


class OfferState(StrEnum):
    INVITED = "INVITED"
    VALIDATING = "VALIDATING"
    DEFICIENT = "DEFICIENT"
    UNDER_REVIEW = "UNDER_REVIEW"
    ESCALATED = "ESCALATED"
    APPROVED = "APPROVED"
    LETTER_ISSUED = "LETTER_ISSUED"
    """The latest letter awaits the partner's answer until `respond_by`. A letter issued before letters awaited an
    answer (no `respond_by`) was the offer's end."""
    LETTER_FAILED = "LETTER_FAILED"
    """The letter could not be rendered or stored after its retries; staff retry it once the cause is fixed."""
    ACCEPTED = "ACCEPTED"
    """The partner accepted the latest letter: its terms are the deal (`deal`)."""
    UNANSWERED = "UNANSWERED"
    """The response window passed without an answer: staff reopen it with a new window, or close it."""
    LAPSED = "LAPSED"
    WITHDRAWN = "WITHDRAWN"
    TERMINATED = "TERMINATED"
    """Shown, never set: Temporal says the offer's workflow was terminated or cancelled by an operator."""
    FAILED = "FAILED"
    """Shown, never set: Temporal says the offer's workflow failed or timed out."""


FINAL_STATES = frozenset(
    {
        OfferState.ACCEPTED,
        OfferState.UNANSWERED,
        OfferState.LAPSED,
        OfferState.WITHDRAWN,
        OfferState.TERMINATED,
        OfferState.FAILED,
    }
)
"""States nothing more comes of for the partner: no version, no answer, no withdrawal. UNANSWERED waits for staff
to reopen or close it; a LETTER_ISSUED from before letters awaited an answer is final too (`is_final`)."""


def awaits_answer(state: OfferState, respond_by: datetime | None) -> bool:
    """Whether a letter awaits the partner's answer: issued, with a response window (letters from before had none)."""
    return state is OfferState.LETTER_ISSUED and respond_by is not None


def is_final(state: OfferState, respond_by: datetime | None) -> bool:
    return state in FINAL_STATES or (state is OfferState.LETTER_ISSUED and respond_by is None)


class OfferInput(BaseModel):
    """Everything one offer workflow needs from its round, fixed when the partner is invited.

    `carry` is set when an offer continues as new: its state so far, compact.
    """

    round_id: str
    partner: PartnerReference
    deadline: datetime
    review_window: timedelta
    approvals_required: int
    letter_attempts: int = 6
    letter_first_retry: timedelta = timedelta(seconds=2)
    remind_before: timedelta = timedelta(hours=24)
    """How long before a deadline the people it waits on are reminded; zero for no reminders."""
    respond_within: timedelta = RESPOND_WITHIN
    """How long the partner has to answer each letter."""
    carry: OfferCarry | None = None


class SubmitOffer(Request):
    ref: DocumentRef | None = None
    """The document, stored before the update is sent."""
    document: OfferDocument | None = None
    """Only in the histories of offers started before documents went by reference."""
    by: str | None = Field(default=None, min_length=1, max_length=200)
    """The account that submits: the signed-in user, the API token's owner, or the CLI's operator. Never the
    document's `submitted_by`, which names the partner's contact. None only in histories written before
    submissions named their account."""


class OfferVersion(BaseModel):
    number: int
    digest: str
    size: int = 0
    received_at: datetime
    summary: DocumentSummary | None = None
    report: ReportSummary | None = None
    submitted_by: str | None = None
    """The account that sent this version (see SubmitOffer.by); None for versions received before it was kept."""


class Submission(BaseModel):
    """Which version a submission or amendment became, and the state it left the offer in."""

    round_id: str
    partner: str
    version: int
    duplicate: bool
    state: OfferState


class SubmissionReceipt(Submission):
    """The workflow's answer to a submission or amendment: the version, the state, what validation found.

    At most FINDINGS_IN_ANSWER findings ride in the answer; the full report is in the store.
    """

    report: ReportSummary | None
    findings: list[Finding] = []


class SubmissionResult(Submission):
    """A submission as the caller sees it: the receipt with every finding, read back from the store."""

    report: ValidationReport | None


class OfferAnswer(BaseModel):
    """The answer to a decision: what its caller needs, never the whole offer."""

    round_id: str
    partner: str
    state: OfferState
    version: int
    approvals: int
    approvals_required: int
    review_deadline: datetime | None
    amend_until: datetime
    respond_by: datetime | None = None
    letters: int = 0


class IssuedLetter(BaseModel):
    """One letter of an offer: its number (1, 2, 3, …), the version it answers, when, and its terms. Every one is
    kept: a counter-offer's letter is another, never a replacement."""

    number: int
    version: int
    issued_at: datetime | None
    ref: LetterRef
    terms: AgreedTerms | None = None


class Deal(BaseModel):
    """The letter the partner accepted, and who accepted it: its terms are the deal."""

    letter: int
    version: int
    rate_pct: float
    accepted_by: str
    accepted_at: datetime
    on_behalf: bool = False
    """Staff accepted for the partner (who answered by other means), with `reason`."""
    reason: str = ""


class Closing(BaseModel):
    """Staff closed an offer that went unanswered: who, when and why."""

    by: str
    at: datetime
    reason: str = ""


class Answering:
    """What an offer's state and its answer's due time say: whether a letter awaits the partner, and whether the
    offer is over. Shared by the view people read and the workflow's memory."""

    if TYPE_CHECKING:  # the fields of the models that take this in; declared there, with their defaults
        state: OfferState
        respond_by: datetime | None

    @property
    def awaits_answer(self) -> bool:
        return awaits_answer(self.state, self.respond_by)

    @property
    def final(self) -> bool:
        return is_final(self.state, self.respond_by)


class OfferView(Answering, BaseModel):
    """What the card and the full view both show of an offer; `report` is a summary on one, the findings on the
    other."""

    round_id: str
    partner: str
    partner_name: str
    state: OfferState
    deadline: datetime
    amend_until: datetime
    review_deadline: datetime | None
    approvals_required: int
    versions: list[OfferVersion]
    report: ReportSummary | ValidationReport | None
    landing_zone: LandingZone | None
    approvals: list[Approval]
    changes_requested: list[str]
    terms: AgreedTerms | None
    letter: LetterRef | None
    """The latest letter (`letters` holds every one)."""
    letter_failure: str | None = None
    respond_by: datetime | None = None
    """When the partner's answer to the latest letter is due (UNANSWERED: when it was due)."""
    letters: list[IssuedLetter] = []
    deal: Deal | None = None
    closing: Closing | None = None

    def numbered_letters(self) -> list[IssuedLetter]:
        """Every letter, from 1; an offer from before letters were kept as a list shows its one letter as letter 1."""
        if self.letters or self.letter is None:
            return list(self.letters)
        version = self.versions[-1].number if self.versions else 1
        at = self.terms.agreed_at if self.terms else None
        return [IssuedLetter(number=1, version=version, issued_at=at, ref=self.letter, terms=self.terms)]

    def answered_version(self, version: int) -> int | None:
        """The version the last letter before `version` answered: what a counter-offer is compared with."""
        answered = [x.version for x in self.numbered_letters() if x.version < version]
        return answered[-1] if answered else None

    def counter_offer(self) -> IssuedLetter | None:
        """The letter the latest version answers as a counter-offer (a version sent after that letter); None while
        a letter awaits its answer, once it is accepted, or before any letter."""
        letters = self.numbered_letters()
        if not letters or not self.versions or self.versions[-1].number <= letters[-1].version:
            return None
        return letters[-1]

    def compare_from(self, version: int) -> int:
        """Which version `version` is compared with by default: the one the last letter before it answered (a
        counter-offer against what the letter answered), else the one before it."""
        return self.answered_version(version) or version - 1


class OfferCard(OfferView):
    """The offer as the workflow keeps and publishes it (memo `card`): no documents, no findings, no events."""

    report: ReportSummary | None
    audit_chunks: list[str] = []
    """The audit trail written to the store when the offer continued as new, oldest first."""
    run: int = 1


class OfferCarry(BaseModel):
    """What an offer takes into its next run when it continues as new: its memory, as the card and the rest."""

    card: OfferCard
    revision: int
    events: list[AuditEvent] = []
    notices: list[Notice] = []
    """Notices not yet done when the run continued: the next run sends them again under the same keys."""
    reminded: list[str] = []
    entered_at: datetime | None = None


class OfferMemory(Answering, BaseModel):
    """One offer's state as its workflow keeps it, in one model.

    The card (what readers see) and the carry (what a new run takes along when the offer continues as new) are
    both derived from it: a field named as on the card is shown there, a field named as in the carry is carried,
    and every field is one or both (tests/test_offer_rules.py). The offer's identity and its round's settings
    are not here: they are the workflow's input, the same in every run.
    """

    state: OfferState = OfferState.INVITED
    amend_until: datetime
    review_deadline: datetime | None = None
    versions: list[OfferVersion] = []
    report: ReportSummary | None = None
    landing_zone: LandingZone | None = None
    approvals: list[Approval] = []
    changes_requested: list[str] = []
    terms: AgreedTerms | None = None
    letter: LetterRef | None = None
    letter_failure: str | None = None
    respond_by: datetime | None = None
    letters: list[IssuedLetter] = []
    deal: Deal | None = None
    closing: Closing | None = None
    audit_chunks: list[str] = []
    """The audit trail written to the store, oldest first."""
    run: int = 1
    revision: int = 0
    """Moves on every change: a run waiting for people compares it to learn that something happened."""
    events: list[AuditEvent] = []
    """The audit events not yet written to the store."""
    reminded: list[str] = []
    """The keys of the last reminders sent, so a deadline is reminded of once."""
    entered_at: datetime
    """When the offer entered its state: a reminder whose time was already past then is not sent."""

    @classmethod
    def invited(cls, inp: OfferInput, now: datetime) -> OfferMemory:
        return cls(amend_until=inp.deadline, entered_at=now)

    @classmethod
    def resumed(cls, carry: OfferCarry, now: datetime) -> OfferMemory:
        """The memory a new run starts from: the last run's, one run later."""
        shown = {name: _copied(getattr(carry.card, name)) for name in ON_CARD}
        carried = {name: _copied(getattr(carry, name)) for name in CARRIED}
        return cls(**(shown | carried | {"run": carry.card.run + 1, "entered_at": carry.entered_at or now}))

    def card(self, inp: OfferInput) -> OfferCard:
        """The card: the input's identity of the offer and a copy of the memory's fields that readers see."""
        return OfferCard(
            round_id=inp.round_id,
            partner=inp.partner.code,
            partner_name=inp.partner.name,
            deadline=inp.deadline,
            approvals_required=inp.approvals_required,
            **{name: _copied(getattr(self, name)) for name in ON_CARD},
        )

    def carry(self, inp: OfferInput, notices: list[Notice]) -> OfferCarry:
        """What the next run takes along: the card, the rest of the memory, and the notices still on their way."""
        return OfferCarry(
            card=self.card(inp), notices=notices, **{name: _copied(getattr(self, name)) for name in CARRIED}
        )


def _copied(value: object) -> object:
    """Lists are copied, so a card or carry is a snapshot that later changes to the memory do not reach."""
    return list(value) if isinstance(value, list) else value


ON_CARD = tuple(name for name in OfferCard.model_fields if name in OfferMemory.model_fields)
"""The memory's fields that the card shows."""
CARRIED = tuple(name for name in OfferCarry.model_fields if name in OfferMemory.model_fields)
"""The memory's fields that the carry takes besides the card."""


class ClosedRun(BaseModel):
    """Temporal's word on a workflow that ended other than by completing: when and why."""

    status: str
    """TERMINATED, CANCELED, FAILED or TIMED_OUT, as Temporal reports it."""
    at: datetime | None
    reason: str


class OfferStatus(OfferView):
    """The full view of one offer: the card, the full findings, the audit trail, and Temporal's status."""

    report: ValidationReport | None
    events: list[AuditEvent]
    closed: ClosedRun | None = None
    notes: list[str] = Field(default_factory=list)
    """What this view could not show, and why (no worker running, the store unreachable)."""


class OfferOutcome(BaseModel):
    partner: str
    state: OfferState
    versions: int
    letter: LetterRef | None
    letters: int = 0


OfferInput.model_rebuild()
