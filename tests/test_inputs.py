"""Durations, deadlines, offer files and settings: what people type and send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from activities.reference import UnknownPartnerError, partner_references
from offerdesk.config import Settings
from offerdesk.documents import UnusableInputError, load_offer, parse_offer
from offerdesk.durations import format_duration, parse_deadline, parse_duration


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


def test_format_duration() -> None:
    assert format_duration(timedelta(days=3)) == "3d" and format_duration(timedelta(seconds=3690)) == "1h1m30s"


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
    with pytest.raises(UnusableInputError, match="over the 1 MiB"):
        parse_offer(" " * (1024 * 1024 + 1))
    with pytest.raises(UnusableInputError, match="cannot read it"):
        load_offer(Path("/nonexistent/offer.json"))


def test_unknown_partners_are_named() -> None:
    with pytest.raises(UnknownPartnerError, match="no reference figures for partner XX, YY"):
        partner_references(["JP", "XX", "YY"])


def test_settings_from_the_environment(tmp_path: Path) -> None:
    s = Settings.from_env({"OFFERDESK_HOME": str(tmp_path)})
    assert s.embedded and s.address == "127.0.0.1:7233" and s.letters_dir == tmp_path / "letters" and not s.tls
    c = Settings.from_env(
        {"TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233", "TEMPORAL_NAMESPACE": "ns.acct", "TEMPORAL_API_KEY": "k"}
    )
    assert not c.embedded and c.address == "ns.acct.tmprl.cloud:7233" and c.namespace == "ns.acct" and c.tls
