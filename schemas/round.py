"""A round: who is invited, until when, and how many approvals an offer needs."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, Field

from schemas.offer import ROUND_ID_PATTERN
from schemas.offer_state import OfferOutcome
from schemas.partner import PartnerReference


class RoundSpec(BaseModel):
    round_id: str = Field(pattern=ROUND_ID_PATTERN)
    partners: list[PartnerReference] = Field(min_length=1)
    deadline: AwareDatetime
    review_window: timedelta = timedelta(days=3)
    approvals_required: int = Field(default=2, ge=1, le=10)
    opened_by: str = "staff"
    letter_attempts: int = Field(default=6, ge=1, le=50)
    """How often a letter is tried before the offer goes to LETTER_FAILED for staff to see and retry."""
    letter_first_retry: timedelta = Field(default=timedelta(seconds=2), gt=timedelta(0))
    """The wait before the second try; each later wait doubles, up to a minute."""
    remind_before: timedelta = Field(default=timedelta(hours=24), ge=timedelta(0))
    """Reminders go this long before submissions close and before each review window closes; 0 for none."""


class RoundStatus(BaseModel):
    round_id: str
    deadline: datetime
    review_window: timedelta
    approvals_required: int
    partners: list[str]
    opened_at: datetime
    started: bool
    remind_before: timedelta = timedelta(hours=24)
    outcomes: list[OfferOutcome] = []
