"""Each validation rule, on the contract's example offer with one thing changed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from offers.documents import load_offer
from offers.validation import validate_offer
from schemas.offer import OfferDocument
from schemas.validation import Category, CategoryStatus, Severity, ValidationReport

AS_OF = date(2025, 6, 2)
EXAMPLE = load_offer(Path(__file__).parent / "data" / "offer.example.json")


def changed(**update: Any) -> OfferDocument:
    return OfferDocument.model_validate({**EXAMPLE.model_dump(mode="json"), **update})


def tariff(**fields: Any) -> dict[str, Any]:
    base = {"hs_code": "8471.30", "description": "Laptops", "current_rate_pct": 5.0, "offered_rate_pct": 0.0}
    return {**base, **fields}


def findings_at(report: ValidationReport, path: str) -> list[tuple[Severity, str]]:
    return [(f.severity, f.message) for f in report.findings if f.path == path]


def test_the_example_offer_is_clean_with_one_no_change_warning() -> None:
    report = validate_offer(EXAMPLE, AS_OF)
    assert report.clean
    assert set(report.categories.values()) == {CategoryStatus.MET}
    assert [(f.severity, f.path) for f in report.findings] == [
        (Severity.WARNING, "tariff_commitments[2].offered_rate_pct")
    ]


def test_a_bad_hs_code_is_an_error_with_its_path() -> None:
    doc = changed(tariff_commitments=[*EXAMPLE.model_dump(mode="json")["tariff_commitments"], tariff(hs_code="8703.2")])
    report = validate_offer(doc, AS_OF)
    assert findings_at(report, "tariff_commitments[4].hs_code") == [
        (Severity.ERROR, '"8703.2": an HS code has 2, 4, 6, 8 or 10 digits, dotted or not (for example 0201.30)')
    ]
    assert not report.clean


def test_fish_does_not_meet_the_agricultural_category() -> None:
    doc = changed(tariff_commitments=[tariff(hs_code="0302.11", description="Trout"), tariff()])
    report = validate_offer(doc, AS_OF)
    assert report.categories[Category.TARIFF_AGRICULTURAL] is CategoryStatus.MISSING
    assert report.categories[Category.TARIFF_INDUSTRIAL] is CategoryStatus.MET
    assert any("agricultural HS code" in f.message for f in report.errors)


def test_rice_meets_agricultural_and_cars_industrial() -> None:
    doc = changed(
        tariff_commitments=[
            tariff(hs_code="1006.30", description="Rice"),
            tariff(hs_code="8703.23", description="Cars"),
        ]
    )
    report = validate_offer(doc, AS_OF)
    assert report.categories[Category.TARIFF_AGRICULTURAL] is CategoryStatus.MET
    assert report.categories[Category.TARIFF_INDUSTRIAL] is CategoryStatus.MET


@pytest.mark.parametrize(
    ("line", "field", "severity", "text"),
    [
        (tariff(offered_rate_pct=6.0), "offered_rate_pct", Severity.ERROR, "above the current rate 5%"),
        (tariff(offered_rate_pct=5.0), "offered_rate_pct", Severity.WARNING, "offers no change"),
        (tariff(current_rate_pct=-1.0, offered_rate_pct=-2.0), "current_rate_pct", Severity.ERROR, "not a tariff rate"),
        (tariff(current_rate_pct=5000.0), "current_rate_pct", Severity.ERROR, "from 0 to 1000"),
        (tariff(staging_years=40), "staging_years", Severity.ERROR, "give 0 to 20 years"),
        (tariff(description="  "), "description", Severity.ERROR, "describe the goods"),
    ],
)
def test_tariff_line_rules(line: dict[str, Any], field: str, severity: Severity, text: str) -> None:
    doc = changed(tariff_commitments=[tariff(hs_code="1006.30", description="Rice"), line])
    found = findings_at(validate_offer(doc, AS_OF), f"tariff_commitments[1].{field}")
    assert any(s is severity and text in m for s, m in found), found
    if severity is Severity.ERROR:
        assert validate_offer(doc, AS_OF).categories[Category.TARIFF_INDUSTRIAL] is CategoryStatus.INVALID


def test_duplicate_hs_lines_are_errors_naming_the_first() -> None:
    doc = changed(
        tariff_commitments=[tariff(hs_code="1006.30", description="Rice"), tariff(), tariff(hs_code="847130")]
    )
    assert findings_at(validate_offer(doc, AS_OF), "tariff_commitments[2].hs_code") == [
        (Severity.ERROR, "repeats the tariff line on the same HS code at tariff_commitments[1]; merge them")
    ]


def test_quotas_met_by_an_explicit_no_quotas_statement() -> None:
    report = validate_offer(changed(quota_commitments=[], no_quotas_on_us_goods=True), AS_OF)
    assert report.categories[Category.QUOTAS] is CategoryStatus.MET and report.clean
    report = validate_offer(changed(quota_commitments=[], no_quotas_on_us_goods=False), AS_OF)
    assert report.categories[Category.QUOTAS] is CategoryStatus.MISSING
    assert any("no_quotas_on_us_goods to true" in f.message for f in report.errors)


def test_no_quotas_with_quota_commitments_contradicts_itself() -> None:
    report = validate_offer(changed(no_quotas_on_us_goods=True), AS_OF)
    assert report.categories[Category.QUOTAS] is CategoryStatus.INVALID
    assert findings_at(report, "no_quotas_on_us_goods")[0][0] is Severity.ERROR


def test_quota_rules() -> None:
    quota = {"hs_code": "1006.30", "description": "Rice", "in_quota_rate_pct": 0.0}
    doc = changed(
        quota_commitments=[
            {**quota, "current_quota_tonnes": 100, "offered_quota_tonnes": 50},
            {**quota, "hs_code": "0402.21", "current_quota_tonnes": 100, "offered_quota_tonnes": 100},
            {**quota, "hs_code": "1701.99", "current_quota_tonnes": -5, "offered_quota_tonnes": 10},
            {**quota, "current_quota_tonnes": 0, "offered_quota_tonnes": 10},
        ]
    )
    report = validate_offer(doc, AS_OF)
    assert "below the current 100 t" in findings_at(report, "quota_commitments[0].offered_quota_tonnes")[0][1]
    assert findings_at(report, "quota_commitments[1].offered_quota_tonnes")[0][0] is Severity.WARNING
    assert "out of range" in findings_at(report, "quota_commitments[2].current_quota_tonnes")[0][1]
    assert "repeats the quota" in findings_at(report, "quota_commitments[3].hs_code")[0][1]


def test_dates_before_the_offer_are_flagged() -> None:
    ntb = {"measure": "Licences", "action": "remove", "detail": "", "effective_by": "2024-01-01"}
    report = validate_offer(
        changed(
            non_tariff_barriers=[ntb],
            country_specific=[
                {"commitment": "LNG", "value_usd": 1e9, "by_year": 2020},
                {"commitment": "x", "by_year": 2200},
            ],
        ),
        AS_OF,
    )
    assert findings_at(report, "non_tariff_barriers[0].effective_by")[0][0] is Severity.WARNING
    assert findings_at(report, "country_specific[0].by_year")[0][0] is Severity.WARNING
    assert "too far ahead" in findings_at(report, "country_specific[1].by_year")[0][1]


def test_empty_pledges_and_missing_categories_are_errors() -> None:
    doc = changed(
        digital_trade=[{"topic": "source_code", "pledge": " "}],
        economic_security=[],
        country_specific=[{"commitment": "", "value_usd": -1}],
    )
    report = validate_offer(doc, AS_OF)
    assert report.categories[Category.DIGITAL_TRADE] is CategoryStatus.INVALID
    assert report.categories[Category.ECONOMIC_SECURITY] is CategoryStatus.MISSING
    assert report.categories[Category.COUNTRY_SPECIFIC] is CategoryStatus.INVALID
    assert findings_at(report, "economic_security")[0][1].startswith("the offer has nothing for the required category")


def test_a_repeated_pledge_topic_is_a_warning() -> None:
    doc = changed(digital_trade=[{"topic": "source_code", "pledge": "a"}, {"topic": "source_code", "pledge": "b"}])
    assert findings_at(validate_offer(doc, AS_OF), "digital_trade[1].topic")[0][0] is Severity.WARNING


def national_schedule(lines: int) -> list[dict[str, Any]]:
    """Distinct 8-digit tariff lines across every chapter 01-97 (77 aside), as a full national schedule has.

    sample_offer's long offers stay under its 32 headings; these reach every chapter, so every row of the table counts.
    """
    chapters = [c for c in range(1, 98) if c != 77]
    codes = (
        f"{c:02d}{h:02d}.{s}.{t}"
        for h in range(1, 21)
        for s in ("10", "20", "30", "90")
        for t in ("00", "10", "20", "90")
        for c in chapters
    )
    schedule = [
        tariff(hs_code=code, description=f"Goods of heading {code[:4]}, tariff line {code}", current_rate_pct=8.0)
        for code, _ in zip(codes, range(lines), strict=False)
    ]
    assert len(schedule) == lines, "the generator runs out at 30,720 lines"
    return schedule


def test_a_full_national_schedule_of_15000_lines_is_validated_line_by_line() -> None:
    schedule = national_schedule(15000)
    schedule[14998] = tariff(hs_code="0²01.30", description="Beef")
    schedule[14999] = {**schedule[7], "description": "The same line again"}  # 0801.10.00, nuts: agricultural
    doc = changed(tariff_commitments=schedule)
    report = validate_offer(doc, AS_OF)
    assert report.categories[Category.TARIFF_AGRICULTURAL] is CategoryStatus.INVALID
    assert report.categories[Category.TARIFF_INDUSTRIAL] is CategoryStatus.MET
    assert [(f.path, f.message[:30]) for f in report.errors] == [
        ("tariff_commitments[14998].hs_code", '"0²01.30": an HS code has 2, 4'),
        ("tariff_commitments[14999].hs_code", "repeats the tariff line on the"),
    ]
    assert report.warnings == []
    assert validate_offer(changed(tariff_commitments=national_schedule(15000)), AS_OF).clean


@pytest.mark.parametrize("code", ["0²01.30", "０２０１", "٠٢٠١"])
def test_digits_of_other_scripts_are_a_finding_not_a_crash(code: str) -> None:
    quota = {"hs_code": code, "description": "Rice", "in_quota_rate_pct": 0.0}
    doc = changed(
        tariff_commitments=[*EXAMPLE.model_dump(mode="json")["tariff_commitments"], tariff(hs_code=code)],
        quota_commitments=[{**quota, "current_quota_tonnes": 0, "offered_quota_tonnes": 10}],
    )
    report = validate_offer(doc, AS_OF)
    message = f'"{code}": an HS code has 2, 4, 6, 8 or 10 digits, dotted or not (for example 0201.30)'
    assert findings_at(report, "tariff_commitments[4].hs_code") == [(Severity.ERROR, message)]
    assert findings_at(report, "quota_commitments[0].hs_code") == [(Severity.ERROR, message)]


def test_no_string_in_an_hs_code_makes_validation_raise() -> None:
    """Every character str.isdigit() takes, in codes shaped like real ones: each is one finding, none an exception."""
    digits = [chr(c) for c in range(0x80, 0x110000) if chr(c).isdigit()]
    odd = [f"0{d}01.30" for d in digits] + [d * 4 for d in digits]
    odd += ["", " ", ".", "..", "0201.30\n", "-1", "+02", "0x10", "1e3", "02\t01", "０２０１", "٠٢٠١"]
    doc = changed(tariff_commitments=[tariff(hs_code=code[:20]) for code in odd])
    report = validate_offer(doc, AS_OF)
    bad_code = [f for f in report.errors if f.path.endswith(".hs_code") and "2, 4, 6, 8 or 10 digits" in f.message]
    assert len(bad_code) == len(odd)
