"""Findings of the validation rules, per required category."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from schemas.document_ref import DocumentRef
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
    """Input of the validation activity of offers started before documents went by reference."""

    document: OfferDocument
    as_of: date


class ValidateStoredRequest(BaseModel):
    """Input of the validation activity: the stored document, the day it was received, and a reference that
    finds this attempt in the worker's log if validation itself fails."""

    ref: DocumentRef
    as_of: date
    reference: str


class ReportSummary(BaseModel):
    """What the workflow keeps of a validation report: counts and categories, the findings in the store.

    Its size does not depend on the document's, so neither does the history an offer writes.
    """

    digest: str | None
    """The full report in the store (Kind.REPORT); None for reports kept inline by older offers."""
    categories: dict[Category, CategoryStatus]
    error_count: int
    warning_count: int
    failure: str | None = None
    """Validation itself failed: the sentence to show, with a reference to find it in the worker's log."""

    @property
    def clean(self) -> bool:
        return self.error_count == 0 and self.failure is None


FINDINGS_IN_ANSWER = 50
"""How many findings an update's answer carries; the rest are in the stored report."""


def summarize_report(report: ValidationReport, digest: str | None) -> ReportSummary:
    return ReportSummary(
        digest=digest,
        categories=report.categories,
        error_count=len(report.errors),
        warning_count=len(report.warnings),
    )


def first_findings(report: ValidationReport, limit: int = FINDINGS_IN_ANSWER) -> list[Finding]:
    """Errors before warnings, in document order, at most `limit`."""
    return (report.errors + report.warnings)[:limit]


def failed_report(failure: str) -> ValidationReport:
    """The report shown when validation itself failed: one error that says so and what to do."""
    return ValidationReport(
        categories={c: CategoryStatus.INVALID for c in Category},
        findings=[Finding(category=None, severity=Severity.ERROR, path="(document)", message=failure)],
    )


class ValidationOutcome(BaseModel):
    """What the validation activity gives the workflow: the summary, and the first findings for the answer."""

    summary: ReportSummary
    findings: list[Finding]
