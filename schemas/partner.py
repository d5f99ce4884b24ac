"""Reference figures for one trade partner (data/partners.csv)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PartnerReference(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    charged_to_us_pct: float
    announced_rate_pct: float
    """The reciprocal rate in Annex I of EO 14257 (April 2025): the ceiling of the landing zone."""
    rate_aug2025_pct: float | None = None
    us_exports_2024_busd: float | None = None
    us_imports_2024_busd: float | None = None
