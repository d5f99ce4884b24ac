"""Landing-zone terms: what the policy proposes, and what reviewers agreed."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from schemas.document_ref import DocumentRef
from schemas.offer import OfferDocument
from schemas.partner import PartnerReference
from schemas.validation import Category, ValidateStoredRequest, ValidationOutcome


class CategoryScore(BaseModel):
    category: Category
    score: float
    """0 (nothing offered) to 1 (everything the policy asks for)."""
    weight: float
    note: str


class LandingZone(BaseModel):
    """The policy's proposal for one offer, computed by offers.landing_zone."""

    partner: str
    partner_name: str
    baseline_rate_pct: float
    announced_rate_pct: float
    score: float
    proposed_rate_pct: float
    category_scores: list[CategoryScore]
    conditions: list[str]
    strengthen: list[str]
    policy_version: str


class Approval(BaseModel):
    reviewer: str
    at: datetime
    rate_pct: float | None = None
    reason: str | None = None
    by_staff: bool = False
    version: int | None = None
    """The version approved; None in approvals recorded before approvals named their version."""


class AgreedTerms(BaseModel):
    """The terms the letter carries: the proposal, the rate reviewers settled on, and who approved."""

    landing_zone: LandingZone
    agreed_rate_pct: float
    rate_set_by: str
    rate_reason: str
    approvals: list[Approval]
    agreed_at: datetime


class ProposeRequest(BaseModel):
    """Input of the landing-zone activity: the clean offer (by reference; inline in older offers) and the
    partner's reference figures."""

    document: OfferDocument | None = None
    ref: DocumentRef | None = None
    partner: PartnerReference


class AssessRequest(BaseModel):
    """Input of the one local activity that takes a stored version in: its validation and, if it is clean, its
    landing zone (offers since issue 26; older ones ran the two as two activities)."""

    check: ValidateStoredRequest
    partner: PartnerReference


class Assessment(BaseModel):
    """Validation's outcome and, for a clean version, the landing zone, or why the policy could not give one."""

    outcome: ValidationOutcome
    landing_zone: LandingZone | None = None
    landing_error: str | None = None
