"""One line of an offer list, as Temporal visibility reports it through the custom search attributes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from schemas.letter import LetterRef


class OfferListing(BaseModel):
    round_id: str
    partner: str
    state: str
    """The offer's state, or TERMINATED / FAILED when Temporal says its workflow ended that way."""
    review_deadline: datetime | None
    workflow_id: str
    running: bool
    letter: LetterRef | None = None
    letter_failure: str | None = None
