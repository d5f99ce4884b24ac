"""Offer documents by reference (claim check): the store holds the bytes, Temporal holds this.

A reference is a digest, a size and a summary of a few numbers, whatever the document's size, so an
offer of 25,000 tariff lines costs the workflow's history no more than one of 20.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.offer import OfferDocument, Person

DIGEST_PATTERN = r"^[0-9a-f]{64}$"


class DocumentSummary(BaseModel):
    submitted_by: Person
    tariff_lines: int
    quota_lines: int
    non_tariff_barriers: int
    digital_trade: int
    economic_security: int
    country_specific: int
    no_quotas_on_us_goods: bool


class DocumentRef(BaseModel):
    digest: str = Field(pattern=DIGEST_PATTERN)
    """SHA-256 of the canonical JSON (OfferDocument.canonical_bytes), the document's id in the store."""
    size: int = Field(ge=0)
    round_id: str
    partner: str
    summary: DocumentSummary


def canonical_bytes(doc: OfferDocument) -> bytes:
    """The bytes stored for a document; their SHA-256 is OfferDocument.digest()."""
    return doc.model_dump_json().encode()


def reference_for(doc: OfferDocument, data: bytes | None = None) -> DocumentRef:
    data = canonical_bytes(doc) if data is None else data
    return DocumentRef(
        digest=doc.digest(),
        size=len(data),
        round_id=doc.round_id,
        partner=doc.partner,
        summary=DocumentSummary(
            submitted_by=doc.submitted_by,
            tariff_lines=len(doc.tariff_commitments),
            quota_lines=len(doc.quota_commitments),
            non_tariff_barriers=len(doc.non_tariff_barriers),
            digital_trade=len(doc.digital_trade),
            economic_security=len(doc.economic_security),
            country_specific=len(doc.country_specific),
            no_quotas_on_us_goods=doc.no_quotas_on_us_goods,
        ),
    )
