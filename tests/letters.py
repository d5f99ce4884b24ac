"""Builders for letter inputs, shared by the letter tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from activities.landing_zone import propose_landing_zone
from activities.reference import load_partners, load_policy
from activities.validation import validate_offer
from schemas.landing import AgreedTerms, Approval
from schemas.letter import LetterInput
from schemas.offer import OfferDocument


def letter_input(doc: OfferDocument, rate: float | None = None) -> LetterInput:
    partner = load_partners()[doc.partner]
    zone = propose_landing_zone(doc, partner, load_policy())
    at = datetime(2025, 6, 6, 15, 30, tzinfo=UTC)
    terms = AgreedTerms(
        landing_zone=zone,
        agreed_rate_pct=rate if rate is not None else zone.proposed_rate_pct,
        rate_set_by="Ada" if rate is not None else "the landing-zone policy",
        rate_reason="in line with the July framework" if rate is not None else "the policy's proposal",
        approvals=[Approval(reviewer="Ada", at=at, rate_pct=rate, reason="ok"), Approval(reviewer="Grace", at=at)],
        agreed_at=at,
    )
    return LetterInput(
        round_id=doc.round_id,
        partner=doc.partner,
        partner_name=partner.name,
        reference=f"OD/{doc.round_id}/{doc.partner}/v1",
        letter_date=at.date(),
        offer_version=1,
        offer=doc,
        report=validate_offer(doc, date(2025, 6, 2)),
        terms=terms,
    )
