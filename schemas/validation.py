"""Findings of the validation rules, per required category."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from schemas.offer import OfferDocument


class Category(StrEnum):
    TARIFF_INDUSTRIAL = "tariff_industrial"
    TARIFF_AGRICULTURAL = "tariff_agricultural"
    QUOTAS = "quotas"
    NON_TARIFF_BARRIERS = "non_tariff_barriers"
    DIGITAL_TRADE = "digital_trade"
    ECONOMIC_SECURITY = "economic_security"
    COUNTRY_SPECIFIC = "country_specific"


CATEGORY_TITLES: dict[Category, str] = {
    Category.TARIFF_INDUSTRIAL: "Tariffs on industrial goods",
    Category.TARIFF_AGRICULTURAL: "Tariffs on agricultural goods",
    Category.QUOTAS: "Tariff-rate quotas",
    Category.NON_TARIFF_BARRIERS: "Non-tariff barriers",
    Category.DIGITAL_TRADE: "Digital trade",
    Category.ECONOMIC_SECURITY: "Economic security",
    Category.COUNTRY_SPECIFIC: "Country-specific commitments",
}


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class CategoryStatus(StrEnum):
    MET = "met"
    MISSING = "missing"
    INVALID = "invalid"


class Finding(BaseModel):
    """One thing a negotiator should look at: where (JSON path) and what to do, in a sentence."""

    model_config = ConfigDict(frozen=True)

    category: Category | None
    severity: Severity
    path: str
    message: str


class ValidationReport(BaseModel):
    categories: dict[Category, CategoryStatus]
    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    @property
    def clean(self) -> bool:
        """Clean means no errors; warnings do not hold an offer back."""
        return not self.errors


class ValidateRequest(BaseModel):
    """Input of the validation activity: the document and the day it was received."""

    document: OfferDocument
    as_of: date
