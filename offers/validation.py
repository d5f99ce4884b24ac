"""The validation rules: does an offer meet the seven required categories? Pure functions, no Temporal.

Validation never rejects a document: it returns findings (error or warning) with the JSON path and a
sentence the negotiator can act on. Errors keep the offer DEFICIENT; warnings only inform.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from offers.hs import GoodsKind, HSCodeError, classify_hs, normalize_hs
from schemas.offer import (
    CountrySpecificCommitment,
    NonTariffBarrier,
    OfferDocument,
    QuotaCommitment,
    TariffCommitment,
)
from schemas.validation import Category, CategoryStatus, Finding, Severity, ValidationReport

MAX_RATE_PCT = 1000.0
MAX_STAGING_YEARS = 20
MAX_QUOTA_TONNES = 1e9

C = Category


def _error(category: Category | None, path: str, message: str) -> Finding:
    return Finding(category=category, severity=Severity.ERROR, path=path, message=message)


def _warning(category: Category | None, path: str, message: str) -> Finding:
    return Finding(category=category, severity=Severity.WARNING, path=path, message=message)


def _rate_findings(category: Category | None, path: str, value: float) -> Iterator[Finding]:
    if not 0 <= value <= MAX_RATE_PCT:
        yield _error(category, path, f"{value:g}% is not a tariff rate; give a percentage from 0 to {MAX_RATE_PCT:g}")


def _tariff_category(kind: GoodsKind) -> Category:
    return C.TARIFF_AGRICULTURAL if kind is GoodsKind.AGRICULTURAL else C.TARIFF_INDUSTRIAL


def check_tariff_line(index: int, line: TariffCommitment) -> tuple[Category | None, list[Finding]]:
    """The category one tariff line counts for (None when its HS code is unusable) and its findings."""
    path = f"tariff_commitments[{index}]"
    try:
        kind = classify_hs(line.hs_code)
    except HSCodeError as e:
        return None, [_error(None, f"{path}.hs_code", f'"{line.hs_code}": {e}')]
    category = _tariff_category(kind)
    findings: list[Finding] = []
    if kind is GoodsKind.MIXED:
        findings.append(
            _warning(
                category,
                f"{path}.hs_code",
                f'"{line.hs_code}" covers both agricultural and industrial goods and counts as industrial; '
                "give 6 digits to say which",
            )
        )
    if not line.description.strip():
        findings.append(_error(category, f"{path}.description", "describe the goods this tariff line covers"))
    findings += _rate_findings(category, f"{path}.current_rate_pct", line.current_rate_pct)
    findings += _rate_findings(category, f"{path}.offered_rate_pct", line.offered_rate_pct)
    if line.offered_rate_pct > line.current_rate_pct:
        findings.append(
            _error(
                category,
                f"{path}.offered_rate_pct",
                f"the offered rate {line.offered_rate_pct:g}% is above the current rate "
                f"{line.current_rate_pct:g}%; an offer may only lower a duty",
            )
        )
    elif line.offered_rate_pct == line.current_rate_pct:
        findings.append(
            _warning(
                category,
                f"{path}.offered_rate_pct",
                f"offers no change from the current rate {line.current_rate_pct:g}% on HS {line.hs_code}",
            )
        )
    if not 0 <= line.staging_years <= MAX_STAGING_YEARS:
        findings.append(
            _error(
                category,
                f"{path}.staging_years",
                f"{line.staging_years} staging years is out of range; give 0 to {MAX_STAGING_YEARS} years",
            )
        )
    return category, findings


def check_quota_line(index: int, line: QuotaCommitment) -> list[Finding]:
    path = f"quota_commitments[{index}]"
    findings: list[Finding] = []
    try:
        normalize_hs(line.hs_code)
    except HSCodeError as e:
        findings.append(_error(C.QUOTAS, f"{path}.hs_code", f'"{line.hs_code}": {e}'))
    if not line.description.strip():
        findings.append(_error(C.QUOTAS, f"{path}.description", "describe the goods this quota covers"))
    for field in ("current_quota_tonnes", "offered_quota_tonnes"):
        value = getattr(line, field)
        if not 0 <= value <= MAX_QUOTA_TONNES:
            findings.append(
                _error(C.QUOTAS, f"{path}.{field}", f"{value:g} tonnes is out of range; give 0 to {MAX_QUOTA_TONNES:g}")
            )
    findings += _rate_findings(C.QUOTAS, f"{path}.in_quota_rate_pct", line.in_quota_rate_pct)
    if line.offered_quota_tonnes < line.current_quota_tonnes:
        findings.append(
            _error(
                C.QUOTAS,
                f"{path}.offered_quota_tonnes",
                f"the offered quota of {line.offered_quota_tonnes:g} t is below the current "
                f"{line.current_quota_tonnes:g} t; an offer may only open a quota further",
            )
        )
    elif line.offered_quota_tonnes == line.current_quota_tonnes:
        findings.append(
            _warning(
                C.QUOTAS,
                f"{path}.offered_quota_tonnes",
                f"offers no change from the current quota of {line.current_quota_tonnes:g} t",
            )
        )
    return findings


def _duplicates(codes: Iterable[tuple[str, str | None]], category: Category | None, what: str) -> Iterator[Finding]:
    """One error per line whose HS code repeats an earlier line's, naming the earlier one."""
    seen: dict[str, str] = {}
    for path, digits in codes:
        if digits is None:
            continue
        if digits in seen:
            yield _error(
                category, f"{path}.hs_code", f"repeats the {what} on the same HS code at {seen[digits]}; merge them"
            )
        else:
            seen[digits] = path


def _digits_or_none(code: str) -> str | None:
    try:
        return normalize_hs(code)
    except HSCodeError:
        return None


def _pledge_findings(category: Category, field: str, pledges: list[tuple[str, str]]) -> Iterator[Finding]:
    seen: set[str] = set()
    for index, (topic, pledge) in enumerate(pledges):
        path = f"{field}[{index}]"
        if not pledge.strip():
            yield _error(category, f"{path}.pledge", "the pledge is empty; say what will be done")
        if topic != "other" and topic in seen:
            yield _warning(category, f"{path}.topic", f'a second pledge on "{topic}"; consider merging them')
        seen.add(topic)


def _measure_findings(path: str, ntb: NonTariffBarrier, as_of: date) -> Iterator[Finding]:
    if not ntb.measure.strip():
        yield _error(C.NON_TARIFF_BARRIERS, f"{path}.measure", "name the measure to remove, reform or recognize")
    if ntb.effective_by < as_of:
        # A warning, not an error: a measure may already be in force; the reviewers judge which.
        yield _warning(
            C.NON_TARIFF_BARRIERS,
            f"{path}.effective_by",
            f"{ntb.effective_by.isoformat()} is before the offer was received ({as_of.isoformat()}); "
            "give a date from then on, or say in detail that the measure is already in force",
        )


def _country_specific_findings(path: str, item: CountrySpecificCommitment, as_of: date) -> Iterator[Finding]:
    if not item.commitment.strip():
        yield _error(C.COUNTRY_SPECIFIC, f"{path}.commitment", "the commitment is empty; say what will be done")
    if item.value_usd is not None and item.value_usd < 0:
        yield _error(C.COUNTRY_SPECIFIC, f"{path}.value_usd", "a commitment's value cannot be negative")
    if item.by_year is not None and item.by_year > as_of.year + 50:
        yield _error(
            C.COUNTRY_SPECIFIC,
            f"{path}.by_year",
            f"{item.by_year} is too far ahead to hold anyone to; give a year up to {as_of.year + 50}",
        )
    elif item.by_year is not None and item.by_year < as_of.year:
        yield _warning(
            C.COUNTRY_SPECIFIC,
            f"{path}.by_year",
            f"{item.by_year} is before the offer was received ({as_of.year}); give a year from then on",
        )


def validate_offer(doc: OfferDocument, as_of: date) -> ValidationReport:
    """Check an offer against the required categories; as_of is the day it was received."""
    findings: list[Finding] = []
    present: set[Category] = set()

    if not doc.summary.strip():
        findings.append(_warning(None, "summary", "the summary is empty; it opens the response letter"))

    tariff_codes: list[tuple[str, str | None]] = []
    tariff_category: dict[str, Category | None] = {}
    for index, line in enumerate(doc.tariff_commitments):
        category, line_findings = check_tariff_line(index, line)
        findings += line_findings
        if category is not None:
            present.add(category)
        path = f"tariff_commitments[{index}]"
        tariff_codes.append((path, _digits_or_none(line.hs_code)))
        tariff_category[path] = category
    for finding in _duplicates(tariff_codes, None, "tariff line"):
        findings.append(finding.model_copy(update={"category": tariff_category[finding.path.removesuffix(".hs_code")]}))

    for index, quota in enumerate(doc.quota_commitments):
        findings += check_quota_line(index, quota)
    findings += _duplicates(
        ((f"quota_commitments[{i}]", _digits_or_none(q.hs_code)) for i, q in enumerate(doc.quota_commitments)),
        C.QUOTAS,
        "quota",
    )
    if doc.quota_commitments and doc.no_quotas_on_us_goods:
        findings.append(
            _error(
                C.QUOTAS,
                "no_quotas_on_us_goods",
                "says the partner keeps no quotas on US goods but also lists quota commitments; "
                "set it to false or remove the quota commitments",
            )
        )
    if doc.quota_commitments or doc.no_quotas_on_us_goods:
        present.add(C.QUOTAS)

    for index, ntb in enumerate(doc.non_tariff_barriers):
        findings += _measure_findings(f"non_tariff_barriers[{index}]", ntb, as_of)
    if doc.non_tariff_barriers:
        present.add(C.NON_TARIFF_BARRIERS)

    findings += _pledge_findings(C.DIGITAL_TRADE, "digital_trade", [(p.topic, p.pledge) for p in doc.digital_trade])
    findings += _pledge_findings(
        C.ECONOMIC_SECURITY, "economic_security", [(p.topic, p.pledge) for p in doc.economic_security]
    )
    if doc.digital_trade:
        present.add(C.DIGITAL_TRADE)
    if doc.economic_security:
        present.add(C.ECONOMIC_SECURITY)

    for index, item in enumerate(doc.country_specific):
        findings += _country_specific_findings(f"country_specific[{index}]", item, as_of)
    if doc.country_specific:
        present.add(C.COUNTRY_SPECIFIC)

    findings += _missing_categories(present)
    categories = {category: _status(category, present, findings) for category in Category}
    return ValidationReport(categories=categories, findings=findings)


MISSING_HINTS: dict[Category, tuple[str, str]] = {
    C.TARIFF_INDUSTRIAL: ("tariff_commitments", "add a tariff line on an industrial HS code (chapters 25-97, or fish)"),
    C.TARIFF_AGRICULTURAL: (
        "tariff_commitments",
        "add a tariff line on an agricultural HS code (chapters 01-24 but fish, or the other WTO Annex 1 goods)",
    ),
    C.QUOTAS: (
        "quota_commitments",
        "add a quota commitment, or set no_quotas_on_us_goods to true if the partner keeps no quotas on US goods",
    ),
    C.NON_TARIFF_BARRIERS: ("non_tariff_barriers", "add at least one measure to remove, reform or recognize"),
    C.DIGITAL_TRADE: ("digital_trade", "add at least one digital trade pledge"),
    C.ECONOMIC_SECURITY: ("economic_security", "add at least one economic security pledge"),
    C.COUNTRY_SPECIFIC: ("country_specific", "add at least one country-specific commitment"),
}


def _missing_categories(present: set[Category]) -> Iterator[Finding]:
    for category in Category:
        if category not in present:
            path, hint = MISSING_HINTS[category]
            yield _error(category, path, f"the offer has nothing for the required category {category.value}; {hint}")


def _status(category: Category, present: set[Category], findings: list[Finding]) -> CategoryStatus:
    if category not in present:
        return CategoryStatus.MISSING
    if any(f.category is category and f.severity is Severity.ERROR for f in findings):
        return CategoryStatus.INVALID
    return CategoryStatus.MET
