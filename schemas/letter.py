"""What the letter activity needs, and what it gives back: a reference to stored bytes, never the bytes."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from schemas.landing import AgreedTerms
from schemas.offer import OfferDocument
from schemas.validation import ValidationReport


class LetterInput(BaseModel):
    round_id: str
    partner: str
    partner_name: str
    reference: str
    letter_date: date
    offer_version: int
    offer: OfferDocument
    report: ValidationReport
    terms: AgreedTerms


class LetterRef(BaseModel):
    letter_id: str
    """The SHA-256 of the PDF: the store is content-addressed."""
    sha256: str
    size: int
    pages: int
    filename: str
