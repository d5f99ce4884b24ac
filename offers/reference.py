"""Reference tables from data/: partners, agricultural HS prefixes and the landing-zone policy."""

from __future__ import annotations

import csv
import json
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from schemas.partner import PartnerReference
from schemas.validation import Category

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


class LandingZonePolicy(BaseModel):
    version: str
    baseline_rate_pct: float
    rounding_pct: float
    weights: dict[Category, float]
    staging_discount_per_year: float
    ntb_action_weights: dict[str, float]
    ntb_target_measures: int
    digital_trade_target_topics: int
    economic_security_target_topics: int
    country_specific_share_of_deficit: float
    country_specific_default_target_usd: float
    strengthen_below: float


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


@lru_cache
def load_partners(path: Path = DATA_DIR / "partners.csv") -> dict[str, PartnerReference]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {
        row["code"]: PartnerReference(
            code=row["code"],
            name=row["name"],
            charged_to_us_pct=float(row["charged_to_us_pct"]),
            announced_rate_pct=float(row["reciprocal_rate_apr2025_pct"]),
            rate_aug2025_pct=_number(row["reciprocal_rate_aug2025_pct"]),
            us_exports_2024_busd=_number(row["us_exports_2024_busd"]),
            us_imports_2024_busd=_number(row["us_imports_2024_busd"]),
        )
        for row in rows
    }


class UnknownPartnerError(ValueError):
    pass


def partner_references(codes: list[str]) -> list[PartnerReference]:
    """The reference rows for these partner codes, or an error naming every unknown one."""
    table = load_partners()
    unknown = [c for c in codes if c not in table]
    if unknown:
        raise UnknownPartnerError(
            f"no reference figures for partner {', '.join(unknown)} in data/partners.csv; "
            f"known partners: {', '.join(sorted(table))}"
        )
    return [table[c] for c in codes]


@lru_cache
def load_agricultural_prefixes(path: Path = DATA_DIR / "agricultural_hs.csv") -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as f:
        return {row["prefix"]: row["kind"] for row in csv.DictReader(f)}


@lru_cache
def load_policy(path: Path = DATA_DIR / "landing_zone_policy.json") -> LandingZonePolicy:
    policy = LandingZonePolicy.model_validate(json.loads(path.read_text(encoding="utf-8")))
    missing = set(Category) - set(policy.weights)
    if missing or abs(sum(policy.weights.values()) - 1.0) > 1e-9:
        raise ValueError(f"{path}: weights must name every category and add up to 1")
    return policy
