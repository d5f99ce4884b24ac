"""The round at a glance: one row per invited partner, built from the offers' cards (offers.report)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from schemas.validation import Category, CategoryStatus

TIME_IN_REVIEW = (
    "Time in review runs from the first version received to the latest agreed terms (APPROVED, LETTER_ISSUED, "
    "LETTER_FAILED, ACCEPTED, UNANSWERED); for an offer still open (VALIDATING, DEFICIENT, UNDER_REVIEW, "
    "ESCALATED, a counter-offer among them) it is still "
    "running, counted up to the time of this report and marked “so far”. It is blank for offers never submitted "
    "and for those closed without agreed terms (LAPSED, WITHDRAWN, TERMINATED, FAILED), whose cards do not say "
    "when they closed."
)
"""How the report defines time in review: the caption on the page, and the note in the exports."""


class PartnerRow(BaseModel):
    """One partner in the round: its state, the latest version's categories, its rates, versions and time."""

    partner: str
    partner_name: str
    state: str
    """The offer's state; INVITED for a partner not yet in visibility (it lags the round by a second or so)."""
    categories: dict[Category, CategoryStatus]
    """From the latest version's report summary; empty before a version is validated."""
    announced_rate_pct: float | None
    proposed_rate_pct: float | None
    agreed_rate_pct: float | None
    versions: int
    first_received_at: datetime | None
    time_in_review: timedelta | None
    """See TIME_IN_REVIEW; None where it is blank."""
    in_review_ongoing: bool = False
    """The clock is still running: time_in_review is up to the report's `as_of`."""
    letters: int = 0
    """How many letters the offer has had: one more for each counter-offer answered."""
    countered: bool = False
    """The partner answered a letter with a counter-offer (a version after its first letter)."""
    deal_rate_pct: float | None = None
    """The rate of the letter the partner accepted: the deal (ACCEPTED)."""

    @property
    def charted_rate_pct(self) -> float | None:
        """The rate the chart draws against the announced one: the deal, else agreed, else proposed."""
        for rate in (self.deal_rate_pct, self.agreed_rate_pct, self.proposed_rate_pct):
            if rate is not None:
                return rate
        return None

    def count(self, status: CategoryStatus) -> int:
        return sum(s is status for s in self.categories.values())


class CategoryTally(BaseModel):
    """How many partners' latest versions met, miss or got wrong one category."""

    met: int = 0
    missing: int = 0
    invalid: int = 0


class RoundReport(BaseModel):
    round_id: str
    deadline: datetime
    review_window: timedelta
    as_of: datetime
    """When the report was made: ongoing times in review are counted up to here."""
    baseline_rate_pct: float
    rows: list[PartnerRow]
    states: dict[str, int]
    """How many partners are in each state."""
    categories: dict[Category, CategoryTally]
    time_in_review_defined_as: str = TIME_IN_REVIEW
    accepted: int = 0
    """Offers whose partner accepted a letter (the deal)."""
    countered: int = 0
    """Offers whose partner answered a letter with a counter-offer, at least once."""
    unanswered: int = 0
    """Offers whose latest letter went unanswered."""
