"""The one way Offerdesk writes CSV, and its one formula guard.

Every CSV file Offerdesk hands out is written by `csv_text`: the letter's tariff-lines.csv attachment, an offer's
tariff lines exported as .csv, and the round report as .csv. They are all opened in spreadsheets, by staff who
did not write what is in them, so they share one dialect and one guard.

The dialect:

- UTF-8, beginning with a byte-order mark, so that Excel reads the file as UTF-8 and not in the machine's code page;
- a comma between cells; every row, the last one too, ends in a line feed ("\\n"), so that a file has one line
  ending throughout (a line break inside a cell stays as it was, inside quotes);
- a cell is quoted only when it holds a comma, a double quote, a carriage return or a line feed, and a double
  quote inside is doubled (RFC 4180). Python's `csv` module leaves a lone carriage return unquoted when rows end
  in "\\n", and a spreadsheet (or `csv.reader`) then starts a new row there: hence the few lines below;
- a number (int or float) is written as the shortest text that reads back as the same number, without ".0"
  when it is whole: 12, 12.5, -0.25, 0.30000000000000004; numbers that are not finite are refused;
- None is an empty cell.

The guard (OWASP, "CSV Injection"): a text cell that a spreadsheet could take for a formula is written with an
apostrophe in front of it, so that the spreadsheet shows it as text and never runs it (`=HYPERLINK(...)` becomes
`'=HYPERLINK(...)`). That is a cell that starts with

- "=", "+", "-" or "@", or their fullwidth forms "＝", "＋", "－", "＠" (U+FF1D, U+FF0B, U+FF0D, U+FF20), which
  spreadsheets set up for East Asian input take as the same;
- a tab, a carriage return or a line feed (a spreadsheet may drop them, and what follows is then the start);
- spaces (or any other whitespace) before any of these: spreadsheets trim them on import, so " =1+2" runs as well.

Numbers are not guarded: -3 is a number, not a formula, and stays a number. A program reading the file back gets
the apostrophe too: the exact text of an offer is in its JSON, not in a CSV.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

Cell = str | int | float | None
"""What a CSV cell takes: text (guarded), a number (written as a number), or nothing. Anything else (a bool,
a date) is the caller's to turn into one of these, as it wants it shown."""

BYTE_ORDER_MARK = "\ufeff"
LINE_END = "\n"
FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\t", "\r", "\n")
"""How a cell starts that a spreadsheet would take for a formula: OWASP's list, the fullwidth forms of its signs,
and a line feed."""
_NEEDS_QUOTES = frozenset(',"\r\n')


def formula_safe(text: str) -> str:
    """`text`, with an apostrophe in front if a spreadsheet would take it for a formula, even after trimming the
    whitespace it starts with."""
    trimmed = text.lstrip() if text[:1].isspace() else text
    return "'" + text if text.startswith(FORMULA_STARTS) or trimmed.startswith(FORMULA_STARTS) else text


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a number a CSV file can hold")
    text = repr(value)
    return text.removesuffix(".0")


def _cell(value: Cell) -> str:
    if isinstance(value, str):
        text = formula_safe(value)
        if _NEEDS_QUOTES.isdisjoint(text):
            return text
        return '"' + text.replace('"', '""') + '"'
    if value is None:
        return ""
    if isinstance(value, bool):
        raise TypeError("a CSV cell takes text, a number or None, not a bool: say how it is shown (yes/no)")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    raise TypeError(f"a CSV cell takes text, a number or None, not {type(value).__name__}")


def _row(values: Sequence[Cell]) -> str:
    if len(values) == 1 and values[0] in ("", None):
        return '""' + LINE_END  # a row of one empty cell, not a blank line
    return ",".join(map(_cell, values)) + LINE_END


def csv_text(rows: Iterable[Sequence[Cell]]) -> str:
    """The rows as a CSV file in Offerdesk's dialect (see the module), byte-order mark first; `.encode()` it
    (UTF-8) for the file's bytes."""
    return BYTE_ORDER_MARK + "".join(map(_row, rows))
