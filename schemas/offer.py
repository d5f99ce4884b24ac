"""The offer document, schema version 1 (see shared/contract/offer.example.json).

The schema checks structure only. Whether an offer meets the required categories is the job of the
validation rules, which report findings instead of rejecting the document, so nothing is thrown away.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ROUND_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
PARTNER_PATTERN = r"^[A-Z]{2}$"
MAX_TARIFF_LINES = 25_000
"""Room for a partner's full national schedule at 8 or 10 digits, not just a selection of lines."""


class _Strict(BaseModel):
    # No NaN or infinity: JSON has none, and pydantic would store one as null, which the document then refuses.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Person(_Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)


class TariffCommitment(_Strict):
    hs_code: str = Field(max_length=20)
    description: str = Field(max_length=2000)
    current_rate_pct: float
    offered_rate_pct: float
    staging_years: int = 0


class QuotaCommitment(_Strict):
    hs_code: str = Field(max_length=20)
    description: str = Field(max_length=2000)
    current_quota_tonnes: float
    offered_quota_tonnes: float
    in_quota_rate_pct: float


class NonTariffBarrier(_Strict):
    measure: str = Field(max_length=2000)
    action: Literal["remove", "reform", "recognize"]
    detail: str = Field(default="", max_length=5000)
    effective_by: date


class DigitalTradePledge(_Strict):
    topic: Literal[
        "cross_border_data",
        "digital_services_tax",
        "customs_duties_on_transmissions",
        "source_code",
        "other",
    ]
    pledge: str = Field(max_length=5000)


class EconomicSecurityPledge(_Strict):
    topic: Literal["export_controls", "investment_screening", "duty_evasion", "supply_chain", "other"]
    pledge: str = Field(max_length=5000)


class CountrySpecificCommitment(_Strict):
    commitment: str = Field(max_length=5000)
    value_usd: float | None = None
    by_year: int | None = None


class OfferDocument(_Strict):
    """One partner's best offer, as the negotiator sends it."""

    schema_version: Literal[1]
    round_id: str = Field(pattern=ROUND_ID_PATTERN)
    partner: str = Field(pattern=PARTNER_PATTERN)
    submitted_by: Person
    summary: str = Field(default="", max_length=20000)
    tariff_commitments: list[TariffCommitment] = Field(default_factory=list, max_length=MAX_TARIFF_LINES)
    quota_commitments: list[QuotaCommitment] = Field(default_factory=list, max_length=500)
    no_quotas_on_us_goods: bool = False
    non_tariff_barriers: list[NonTariffBarrier] = Field(default_factory=list, max_length=500)
    digital_trade: list[DigitalTradePledge] = Field(default_factory=list, max_length=200)
    economic_security: list[EconomicSecurityPledge] = Field(default_factory=list, max_length=200)
    country_specific: list[CountrySpecificCommitment] = Field(default_factory=list, max_length=200)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: two submissions of the same content share it."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()
