"""Durations, deadlines, offer files and settings: what people type and send."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from offerdesk.config import Settings
from offerdesk.durations import format_duration, parse_deadline, parse_duration
from offerdesk.samples import sample_offer
from offers.documents import MAX_JSON_DEPTH, UnusableInputError, load_offer, parse_offer
from offers.reference import UnknownPartnerError, partner_references
from schemas.offer import MAX_TARIFF_LINES, OfferDocument
from schemas.review import StaffDecision
from tests.test_validation import national_schedule


@pytest.mark.parametrize(
    ("text", "delta"),
    [("90s", timedelta(seconds=90)), ("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)),
     ("3d", timedelta(days=3)), ("1d12h", timedelta(hours=36)), ("1.5h", timedelta(minutes=90))],
)  # fmt: skip
def test_durations(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta


@pytest.mark.parametrize("text", ["", "3", "3x", "d3", "-1d", "0s", "3 days"])
def test_bad_durations_say_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=2, hours=23, minutes=59, seconds=50), "2 d 23 h"),
        (timedelta(days=3), "3 d"),
        (timedelta(days=1, minutes=5), "1 d"),
        (timedelta(seconds=3690), "1 h 1 m"),
        (timedelta(seconds=90), "1 m 30 s"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(0), "0 s"),
        (timedelta(seconds=-5), "0 s"),
    ],
)
def test_format_duration_gives_the_two_largest_units_spaced(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text
    if delta > timedelta(0):  # and reads back as at most what it shows, within the smaller unit
        assert timedelta(0) <= delta - parse_duration(text) < timedelta(hours=1 if delta >= timedelta(days=1) else 60)


def test_deadlines_need_a_zone() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_deadline("2h", now) == now + timedelta(hours=2)
    assert parse_deadline("2026-12-02T17:00:00Z", now) == datetime(2026, 12, 2, 17, tzinfo=UTC)
    with pytest.raises(ValueError, match="no time zone"):
        parse_deadline("2026-12-02T17:00:00", now)
    with pytest.raises(ValueError, match="not a deadline"):
        parse_deadline("Wednesday", now)


def test_a_json_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "offer.json"
    bad.write_text('{\n  "schema_version": 1,\n  "partner" "JP"\n}')
    with pytest.raises(UnusableInputError, match=r"offer.json: line 3, column 13: Expecting ':' delimiter"):
        load_offer(bad)


def test_schema_errors_name_each_field_path(example_path: Path) -> None:
    text = example_path.read_text()
    text = text.replace('"offered_rate_pct": 9.0', '"offered_rate_pct": "nine"').replace(
        '"action": "recognize"', '"action": "ignore"'
    )
    with pytest.raises(UnusableInputError) as info:
        parse_offer(text, "offer.json")
    message = str(info.value)
    assert "offer.json: tariff_commitments[0].offered_rate_pct: Input should be a valid number" in message
    assert "offer.json: non_tariff_barriers[0].action: Input should be 'remove', 'reform' or 'recognize'" in message


def test_unknown_fields_wrong_version_and_huge_files_are_refused(example_path: Path) -> None:
    text = example_path.read_text()
    with pytest.raises(UnusableInputError, match="schema_version: Input should be 1"):
        parse_offer(text.replace('"schema_version": 1', '"schema_version": 2'))
    with pytest.raises(UnusableInputError, match="surprise: Extra inputs are not permitted"):
        parse_offer(text.replace('"schema_version": 1', '"schema_version": 1, "surprise": true'))
    with pytest.raises(UnusableInputError, match=r"^offer: 16,777,217 bytes is over the 16 MiB an offer may take$"):
        parse_offer(" " * (16 * 1024 * 1024 + 1))
    with pytest.raises(UnusableInputError, match="cannot read it"):
        load_offer(Path("/nonexistent/offer.json"))


def test_unknown_partners_are_named() -> None:
    with pytest.raises(UnknownPartnerError, match="no reference figures for partner XX, YY"):
        partner_references(["JP", "XX", "YY"])


def test_settings_from_the_environment(tmp_path: Path) -> None:
    s = Settings.from_env({"OFFERDESK_HOME": str(tmp_path)})
    assert s.embedded and s.address == "127.0.0.1:7233" and s.store_url is None and not s.tls
    c = Settings.from_env(
        {"TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233", "TEMPORAL_NAMESPACE": "ns.acct", "TEMPORAL_API_KEY": "k"}
    )
    assert not c.embedded and c.address == "ns.acct.tmprl.cloud:7233" and c.namespace == "ns.acct" and c.tls


def with_schedule(example_path: Path, lines: int) -> str:
    doc = json.loads(example_path.read_text())
    return json.dumps({**doc, "tariff_commitments": national_schedule(lines)}, indent=2)


def test_a_full_national_schedule_is_an_offer(example_path: Path) -> None:
    text = with_schedule(example_path, MAX_TARIFF_LINES)
    assert len(text.encode()) > 2 * 1024 * 1024  # over the old 1 MiB cap, well within the new one
    assert len(parse_offer(text, "offer.json").tariff_commitments) == MAX_TARIFF_LINES == 25_000
    with pytest.raises(UnusableInputError, match=r"tariff_commitments: List should have at most 25000 items"):
        parse_offer(with_schedule(example_path, MAX_TARIFF_LINES + 1), "offer.json")


def test_a_15000_line_offer_reads_line_for_line(example_path: Path) -> None:
    doc = parse_offer(with_schedule(example_path, 15000), "offer.json")
    assert [line.hs_code for line in doc.tariff_commitments] == [line["hs_code"] for line in national_schedule(15000)]
    assert len({line.hs_code for line in doc.tariff_commitments}) == 15000


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("NaN", "NaN is not a number; give a finite number"),
        ("Infinity", "Infinity is not a finite number; give a finite number"),
        ("-Infinity", "-Infinity is not a finite number; give a finite number"),
        ("1e400", "the number is too large to hold (over 1.8e308); give a finite number"),
        ("-2E+999", "the number is too large to hold (over 1.8e308); give a finite number"),
    ],
)
def test_numbers_json_cannot_carry_are_refused_with_their_path(example_path: Path, literal: str, message: str) -> None:
    doc = json.loads(example_path.read_text())
    doc["tariff_commitments"][3]["offered_rate_pct"] = "@"
    text = json.dumps(doc).replace('"@"', literal)
    with pytest.raises(UnusableInputError) as info:
        parse_offer(text, "offer.json")
    assert str(info.value) == f"offer.json: tariff_commitments[3].offered_rate_pct: {message}"
    assert info.value.fields == [("tariff_commitments[3].offered_rate_pct", message)]


def test_every_non_finite_number_is_named_in_document_order(example_path: Path) -> None:
    doc = json.loads(example_path.read_text())
    doc["country_specific"][0]["value_usd"] = "@inf"
    doc["tariff_commitments"][1]["current_rate_pct"] = "@nan"
    doc["surprise"] = [[1.5, "@nan"]]
    doc["summary"] = "NaN and Infinity in a sentence are only words"
    text = json.dumps(doc).replace('"@nan"', "NaN").replace('"@inf"', "Infinity")
    with pytest.raises(UnusableInputError) as info:
        parse_offer(text.encode(), "offer.json")
    assert [path for path, _ in info.value.fields] == [
        "tariff_commitments[1].current_rate_pct",
        "country_specific[0].value_usd",
        "surprise[0][1]",
    ]
    assert str(info.value).splitlines()[0] == (
        "offer.json: tariff_commitments[1].current_rate_pct: NaN is not a number; give a finite number"
    )
    with pytest.raises(UnusableInputError, match=r"^offer.json: \(document\): NaN is not a number"):
        parse_offer("NaN", "offer.json")


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("tariff_commitments", 0, "offered_rate_pct"), float("nan")),
        (("tariff_commitments", 2, "current_rate_pct"), float("inf")),
        (("quota_commitments", 0, "offered_quota_tonnes"), float("-inf")),
        (("country_specific", 0, "value_usd"), float("nan")),
    ],
)
def test_a_document_built_without_json_refuses_nan_and_infinity_too(
    example_path: Path, where: tuple[str, int, str], value: float
) -> None:
    doc = json.loads(example_path.read_text())
    field, index, name = where
    doc[field][index][name] = value
    with pytest.raises(ValidationError) as info:
        OfferDocument.model_validate(doc)
    assert [(e["loc"], e["msg"]) for e in info.value.errors()] == [(where, "Input should be a finite number")]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "text",
    [
        nested(50_000),  # json.loads itself gives up (RecursionError)
        nested(500),  # json.loads manages; the depth check refuses
        nested(MAX_JSON_DEPTH + 1),
        '{"schema_version": 1, "summary": ' + nested(MAX_JSON_DEPTH) + "}",
        '{"a": ' * 70 + "1" + "}" * 70,
    ],
    ids=["50000", "500", "65", "65-under-a-field", "70-objects"],
)
def test_json_nested_past_64_levels_is_refused_in_a_sentence(text: str) -> None:
    message = (
        "offer.json: nested more than 64 levels deep; an offer document is 3 levels deep "
        "(the document, a list, its items): send the offer's JSON file"
    )
    for sent in (text, text.encode()):
        with pytest.raises(UnusableInputError) as info:
            parse_offer(sent, "offer.json")
        assert str(info.value) == message


def test_json_nested_64_levels_gets_as_far_as_the_schema() -> None:
    with pytest.raises(UnusableInputError) as info:
        parse_offer('{"schema_version": 1, "summary": ' + nested(MAX_JSON_DEPTH - 1) + "}", "offer.json")
    assert "offer.json: summary: Input should be a valid string" in str(info.value)
    assert MAX_JSON_DEPTH == 64


def test_a_number_of_thousands_of_digits_is_refused_in_a_sentence(example_path: Path) -> None:
    text = example_path.read_text().replace('"staging_years": 0', '"staging_years": ' + "9" * 5000, 1)
    with pytest.raises(UnusableInputError, match=r"^offer.json: a number has more than 4,300 digits"):
        parse_offer(text, "offer.json")


def test_the_size_cap_counts_bytes_not_characters() -> None:
    text = "€" * (6 * 1024 * 1024)  # 6 Mi characters, 18 MiB in UTF-8
    with pytest.raises(UnusableInputError, match=r"^offer: 18,874,368 bytes is over the 16 MiB"):
        parse_offer(text)


def test_a_file_over_the_cap_is_refused_with_its_size(tmp_path: Path) -> None:
    huge = tmp_path / "offer.json"
    with huge.open("wb") as f:
        f.truncate(40 * 1024 * 1024)
    with pytest.raises(UnusableInputError, match=r"offer.json: 41,943,040 bytes is over the 16 MiB an offer may take$"):
        load_offer(huge)


@pytest.mark.parametrize("rate", [-5, 5000, 1e308, float("nan"), float("inf")])
def test_staff_rates_are_finite_and_within_0_to_100(rate: float) -> None:
    with pytest.raises(ValidationError, match="rate_pct"):
        StaffDecision(by="Sam", decision="approve", rate_pct=rate, reason="why")


def test_a_staff_decision_needs_a_reason_that_is_not_blank() -> None:
    with pytest.raises(ValidationError, match="give a reason"):
        StaffDecision(by="Sam", decision="approve", rate_pct=20, reason="   ")
    assert StaffDecision(by="Sam", decision="approve", rate_pct=100, reason="ok").rate_pct == 100


def test_a_json_offer_of_more_values_than_an_offer_holds_is_refused_before_it_is_parsed() -> None:
    full = sample_offer("r", "JP", lines=25_000).model_dump_json()
    assert parse_offer(full).tariff_commitments[-1]  # the largest offer there is passes
    bomb = "[" + ",".join(["0"] * 1_000_001) + "]"
    with pytest.raises(UnusableInputError, match=r"^offer: holds more than the 1,000,000 values an offer may"):
        parse_offer(bomb)
    with pytest.raises(UnusableInputError, match="holds more than"):
        parse_offer(bomb.encode())
