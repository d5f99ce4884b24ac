"""The state of one offer as its workflow keeps it, the messages that change it, and the views of it.

The workflow keeps an OfferCard: bounded in size whatever the documents' size, published as the workflow's
memo so it can be read with no worker running. The full view (OfferStatus) is assembled outside the
workflow from the card, the store (findings, audit chunks) and Temporal's own status of the workflow.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

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
    LETTER_FAILED = "LETTER_FAILED"
    """The letter could not be rendered or stored after its retries; staff retry it once the cause is fixed."""
    LAPSED = "LAPSED"
    WITHDRAWN = "WITHDRAWN"
    TERMINATED = "TERMINATED"
    """Shown, never set: Temporal says the offer's workflow was terminated or cancelled by an operator."""
    FAILED = "FAILED"
    """Shown, never set: Temporal says the offer's workflow failed or timed out."""


FINAL_STATES = frozenset(
    {OfferState.LETTER_ISSUED, OfferState.LAPSED, OfferState.WITHDRAWN, OfferState.TERMINATED, OfferState.FAILED}
)


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


class SubmissionReceipt(BaseModel):
    """The workflow's answer to a submission or amendment: the version, the state, what validation found.

    At most FINDINGS_IN_ANSWER findings ride in the answer; the full report is in the store.
    """

    round_id: str
    partner: str
    version: int
    duplicate: bool
    state: OfferState
    report: ReportSummary | None
    findings: list[Finding] = []


class SubmissionResult(BaseModel):
    """A submission as the caller sees it: the receipt with every finding, read back from the store."""

    round_id: str
    partner: str
    version: int
    duplicate: bool
    state: OfferState
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


class OfferCard(BaseModel):
    """The offer as the workflow keeps and publishes it (memo `card`): no documents, no findings, no events."""

    round_id: str
    partner: str
    partner_name: str
    state: OfferState
    deadline: datetime
    amend_until: datetime
    review_deadline: datetime | None
    approvals_required: int
    versions: list[OfferVersion]
    report: ReportSummary | None
    landing_zone: LandingZone | None
    approvals: list[Approval]
    changes_requested: list[str]
    terms: AgreedTerms | None
    letter: LetterRef | None
    letter_failure: str | None = None
    audit_chunks: list[str] = []
    """The audit trail written to the store when the offer continued as new, oldest first."""
    run: int = 1


class OfferCarry(BaseModel):
    """What an offer takes into its next run when it continues as new."""

    card: OfferCard
    revision: int
    events: list[AuditEvent] = []
    notices: list[Notice] = []
    """Notices not yet done when the run continued: the next run sends them again under the same keys."""
    reminded: list[str] = []
    entered_at: datetime | None = None


class ClosedRun(BaseModel):
    """Temporal's word on a workflow that ended other than by completing: when and why."""

    status: str
    """TERMINATED, CANCELED, FAILED or TIMED_OUT, as Temporal reports it."""
    at: datetime | None
    reason: str


class OfferStatus(BaseModel):
    """The full view of one offer: the card, the full findings, the audit trail, and Temporal's status."""

    round_id: str
    partner: str
    partner_name: str
    state: OfferState
    deadline: datetime
    amend_until: datetime
    review_deadline: datetime | None
    approvals_required: int
    versions: list[OfferVersion]
    report: ValidationReport | None
    landing_zone: LandingZone | None
    approvals: list[Approval]
    changes_requested: list[str]
    terms: AgreedTerms | None
    letter: LetterRef | None
    letter_failure: str | None = None
    events: list[AuditEvent]
    closed: ClosedRun | None = None
    notes: list[str] = Field(default_factory=list)
    """What this view could not show, and why (no worker running, the store unreachable)."""


class OfferOutcome(BaseModel):
    partner: str
    state: OfferState
    versions: int
    letter: LetterRef | None


OfferInput.model_rebuild()
