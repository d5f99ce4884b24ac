"""One line of an offer list, as Temporal visibility reports it through the custom search attributes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from schemas.letter import LetterRef
from schemas.offer_state import Deal


class OfferListing(BaseModel):
    round_id: str
    partner: str
    state: str
    """The offer's state, or TERMINATED / FAILED when Temporal says its workflow ended that way."""
    review_deadline: datetime | None
    workflow_id: str
    running: bool
    letter: LetterRef | None = None
    """The latest letter."""
    letter_failure: str | None = None
    letters: int = 0
    """How many letters the offer has had (1, 2, 3, … with each counter-offer answered)."""
    respond_by: datetime | None = None
    """When the partner's answer to the latest letter is due (LETTER_ISSUED), or was (UNANSWERED)."""
    deal: Deal | None = None
    """The letter the partner accepted (ACCEPTED): its rate is the deal."""
