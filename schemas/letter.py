"""What the letter activity needs, and what it gives back: a reference to stored bytes, never the bytes."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from schemas.document_ref import DocumentRef
from schemas.landing import AgreedTerms
from schemas.offer import OfferDocument
from schemas.validation import ValidationReport


class LetterHeading(BaseModel):
    """Whom a letter is to, its reference and date, and the version it answers."""

    round_id: str
    partner: str
    partner_name: str
    reference: str
    letter_date: date
    offer_version: int


class LetterInput(LetterHeading):
    """Everything a letter shows, the document included: what the renderer takes, inside the activity."""

    offer: OfferDocument
    report: ValidationReport
    terms: AgreedTerms


class LetterRequest(LetterHeading):
    """What the workflow sends the letter activity: the document and its report by reference."""

    offer: DocumentRef
    report_digest: str | None
    terms: AgreedTerms

    def with_content(self, offer: OfferDocument, report: ValidationReport) -> LetterInput:
        heading = self.model_dump(include=set(LetterHeading.model_fields))
        return LetterInput(**heading, offer=offer, report=report, terms=self.terms)


class LetterRef(BaseModel):
    letter_id: str
    """The SHA-256 of the PDF: the store is content-addressed."""
    sha256: str
    size: int
    pages: int
    filename: str
