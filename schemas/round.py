"""A round: who is invited, until when, and how many approvals an offer needs."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, Field

from schemas.answer import RESPOND_WITHIN, ResponseWindow
from schemas.offer import ROUND_ID_PATTERN
from schemas.offer_state import OfferOutcome
from schemas.partner import PartnerReference

MAX_PARTNERS = 1000
"""Partners one round invites: every trading partner there is (some 230 customs territories), and the benchmark's
600-partner rounds (benchmarks/README.md: the dashboard and 5,000 open offers), with room to spare."""


class RoundTerms(BaseModel):
    """What opening a round asks for and its bounds, once: the engine's RoundSpec and the portal's request body
    both derive from it, so the CLI, the API and the pages refuse the same values with the same words."""

    round_id: str = Field(pattern=ROUND_ID_PATTERN)
    deadline: AwareDatetime
    review_window: timedelta = Field(default=timedelta(days=3), gt=timedelta(0), le=timedelta(days=90))
    approvals_required: int = Field(default=2, ge=1, le=10)
    respond_within: ResponseWindow = RESPOND_WITHIN
    """How long a partner has to answer each letter (accept it, or send a counter-offer) before it is UNANSWERED."""


class RoundSpec(RoundTerms):
    partners: list[PartnerReference] = Field(min_length=1, max_length=MAX_PARTNERS)
    opened_by: str = "staff"
    letter_attempts: int = Field(default=6, ge=1, le=50)
    """How often a letter is tried before the offer goes to LETTER_FAILED for staff to see and retry."""
    letter_first_retry: timedelta = Field(default=timedelta(seconds=2), gt=timedelta(0))
    """The wait before the second try; each later wait doubles, up to a minute."""
    remind_before: timedelta = Field(default=timedelta(hours=24), ge=timedelta(0))
    """Reminders go this long before submissions close, before each review window closes and before each response
    window closes; 0 for none."""


class RoundStatus(BaseModel):
    round_id: str
    deadline: datetime
    review_window: timedelta
    approvals_required: int
    partners: list[str]
    opened_at: datetime
    started: bool
    remind_before: timedelta = timedelta(hours=24)
    respond_within: timedelta = RESPOND_WITHIN
    outcomes: list[OfferOutcome] = []

    @classmethod
    def of(
        cls, spec: RoundSpec, opened_at: datetime, started: bool, outcomes: list[OfferOutcome] | None = None
    ) -> RoundStatus:
        """The one place a round's status is made from its spec: the workflow's query and the engine's read."""
        return cls(
            round_id=spec.round_id,
            deadline=spec.deadline,
            review_window=spec.review_window,
            approvals_required=spec.approvals_required,
            partners=[p.code for p in spec.partners],
            opened_at=opened_at,
            started=started,
            remind_before=spec.remind_before,
            respond_within=spec.respond_within,
            outcomes=outcomes or [],
        )
