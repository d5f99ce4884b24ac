"""What the letter activity needs, and what it gives back: a reference to stored bytes, never the bytes."""

from __future__ import annotations

from datetime import date, datetime

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
    """The SHA-256 of the signed PDF: the store is content-addressed."""
    sha256: str
    size: int
    pages: int
    filename: str
    body_sha256: str | None = None
    """The SHA-256 of the letter before it was signed (reproducible byte for byte); None for older letters."""
    signed_by: str | None = None
    """The signer's name, as its certificate gives it; None for letters issued before letters were signed."""
    signed_at: datetime | None = None


class LetterTimestamp(BaseModel):
    """A signature's trusted timestamp (RFC 3161), as a check of the letter found it."""

    time: datetime
    authority: str
    """The timestamp authority, as its certificate names it."""
    intact: bool
    trusted: bool
    """Whether the authority's certificate chains to a trusted one."""


class LetterCheck(BaseModel):
    """What a check of a letter found: valid when it is signed, unchanged since, and the signer is trusted."""

    valid: bool
    signer: str | None = None
    signed_at: datetime | None = None
    """The signing time the signature states (the signer's own clock)."""
    timestamp: LetterTimestamp | None = None
    covers_whole_file: bool = False
    """The signature covers every byte of the file, and the bytes are those that were signed."""
    trusted: bool = False
    """The signer's certificate chains to a trusted certificate (by default, the installation's own)."""
    reason: str
    """Why, in a sentence (required, after fields with defaults: pydantic takes them by keyword)."""
