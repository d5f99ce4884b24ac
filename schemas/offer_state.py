"""The state of one offer as its workflow keeps it, and the messages that change it."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from schemas.landing import AgreedTerms, Approval, LandingZone
from schemas.letter import LetterRef
from schemas.offer import OfferDocument
from schemas.partner import PartnerReference
from schemas.review import AuditEvent
from schemas.validation import ValidationReport


class OfferState(StrEnum):
    INVITED = "INVITED"
    VALIDATING = "VALIDATING"
    DEFICIENT = "DEFICIENT"
    UNDER_REVIEW = "UNDER_REVIEW"
    ESCALATED = "ESCALATED"
    APPROVED = "APPROVED"
    LETTER_ISSUED = "LETTER_ISSUED"
    LAPSED = "LAPSED"
    WITHDRAWN = "WITHDRAWN"


FINAL_STATES = frozenset({OfferState.LETTER_ISSUED, OfferState.LAPSED, OfferState.WITHDRAWN})


class OfferInput(BaseModel):
    """Everything one offer workflow needs from its round, fixed when the partner is invited."""

    round_id: str
    partner: PartnerReference
    deadline: datetime
    review_window: timedelta
    approvals_required: int


class SubmitOffer(BaseModel):
    document: OfferDocument


class OfferVersion(BaseModel):
    number: int
    digest: str
    received_at: datetime
    document: OfferDocument
    report: ValidationReport | None = None


class SubmissionReceipt(BaseModel):
    """The answer to a submission or an amendment: accepted, under which version, and what validation found."""

    round_id: str
    partner: str
    version: int
    duplicate: bool
    state: OfferState
    report: ValidationReport | None


class OfferStatus(BaseModel):
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
    events: list[AuditEvent]


class OfferOutcome(BaseModel):
    partner: str
    state: OfferState
    versions: int
    letter: LetterRef | None
