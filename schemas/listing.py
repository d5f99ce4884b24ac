"""One line of an offer list, as Temporal visibility reports it through the custom search attributes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class OfferListing(BaseModel):
    round_id: str
    partner: str
    state: str
    review_deadline: datetime | None
    workflow_id: str
    running: bool
