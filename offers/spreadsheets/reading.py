"""Reading a filled-in offer workbook: every cell it cannot use named by its sheet, row and column.

`Tariffs!D14: offered rate 'three' is not a number`; the schema's errors are mapped back to cells too, so a
negotiator fixes the workbook, not a JSON path.

Bounded against hostile files: `sandbox.read_workbook` reads in a child process under a memory and a time limit
(`sandbox`), which first checks the workbook's bounds (`bounds`: what its parts unpack to, their XML, the shared
strings, the rows and cells of the sheets read) and only then lets openpyxl read it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from pydantic import ValidationError

from offers.inputs import MAX_OFFER_BYTES, UnusableInputError, field_path
from offers.spreadsheets.bounds import check_workbook
from offers.spreadsheets.cells import Unreadable, blank, convert, shown
from offers.spreadsheets.layout import HEADER_FIELDS, HEADER_SHEET, SHEETS, Column, Kind, Sheet, norm
from offers.spreadsheets.limits import MAX_SHEET_ROWS, reason, sheet_ref
from schemas.offer import OfferDocument

MAX_REPORTED = 200
"""Unusable cells listed in `fields`; the message itself lists the first few."""
SHOWN_IN_MESSAGE = 20


class _Problems:
    """The unusable cells found so far, in reading order."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[tuple[str, str]] = []

    def add(self, ref: str, message: str) -> None:
        self.found.append((ref, message))

    def raise_if_any(self) -> None:
        if self.found:
            raise _error(self.source, self.found)


def _error(source: str, found: list[tuple[str, str]]) -> UnusableInputError:
    lines = [f"{source}: {ref}: {message}" for ref, message in found[:SHOWN_IN_MESSAGE]]
    if len(found) > SHOWN_IN_MESSAGE:
        lines.append(f"{source}: ... and {len(found) - SHOWN_IN_MESSAGE:,} more cells to fix")
    return UnusableInputError("\n".join(lines), found[:MAX_REPORTED])


_title = sheet_ref


def _ref(sheet: str, column: int, row: int) -> str:
    return f"{_title(sheet)}!{get_column_letter(column)}{row}"


@dataclass
class _Where:
    """Where each part of the document came from, to name cells in the schema's errors."""

    header_rows: dict[str, int]
    rows: dict[str, list[int]]
    columns: dict[str, dict[str, int]]


def read_workbook_here(data: bytes, source: str = "offer.xlsx") -> OfferDocument:
    """`read_workbook` in this process, without its limits: the child's side, and tests'. The bounds are checked
    first (`offers.spreadsheets.bounds`), then openpyxl reads the sheets; whatever openpyxl raises on a hostile
    file becomes an `UnusableInputError` naming the sheet."""
    if len(data) > MAX_OFFER_BYTES:
        raise UnusableInputError(
            f"{source}: {len(data):,} bytes is over the {MAX_OFFER_BYTES >> 20} MiB an offer may take"
        )
    check_workbook(data, source)
    try:
        with _unsized():
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except MemoryError:
        raise
    except Exception as e:  # a hostile file can make openpyxl raise anything: KeyError, ParseError, TypeError...
        raise UnusableInputError(
            f"{source}: is not an .xlsx workbook that can be read ({reason(e)}); save it from your spreadsheet "
            "as Excel workbook (.xlsx), or send the offer's JSON document"
        ) from None
    try:
        raw, where = _read(wb, source)
    finally:
        wb.close()
    try:
        return OfferDocument.model_validate(raw)
    except ValidationError as e:
        found = [_schema_error(err, where) for err in e.errors()]
        raise _error(source, found) from None


@contextmanager
def _unsized() -> Iterator[None]:
    """openpyxl's read-only mode parses each sheet that has no <dimension> in full as it opens the workbook, just to
    size it, sheets never read included; the reading resets the size anyway (`reset_dimensions`), as a <dimension>
    can lie. So the sheets are not sized: a sheet is parsed once, when read. (This process's other read-only
    workbooks opened meanwhile go unsized too, as if they had no <dimension>: in the reading child there are none.)"""
    sized = ReadOnlyWorksheet._get_size
    ReadOnlyWorksheet._get_size = lambda self: None
    try:
        yield
    finally:
        ReadOnlyWorksheet._get_size = sized


def _unreadable(source: str, title: str, e: Exception) -> UnusableInputError:
    where = _title(title)
    message = (
        f"the sheet cannot be read ({reason(e)}); save it again from your spreadsheet as Excel workbook (.xlsx), "
        "or send the offer's JSON document"
    )
    return UnusableInputError(f"{source}: {where}: {message}", [(where, message)])


def _read(wb: Any, source: str) -> tuple[dict[str, Any], _Where]:
    problems = _Problems(source)
    titles = {norm(t): t for t in wb.sheetnames}
    if norm(HEADER_SHEET) not in titles:
        problems.add(HEADER_SHEET, f"the workbook has no sheet '{HEADER_SHEET}'; start from 'offerdesk offer template'")
        problems.raise_if_any()
    where = _Where({}, {}, {})
    title = titles[norm(HEADER_SHEET)]
    try:
        raw = _read_header(wb[title], problems, where)
        for sheet in SHEETS:
            if norm(sheet.title) in titles:
                title = titles[norm(sheet.title)]
                raw[sheet.field] = _read_sheet(wb[title], sheet, problems, where)
    except MemoryError:
        raise
    except Exception as e:  # openpyxl on a hostile sheet: a number of 5,000 digits, a style that is not there...
        raise _unreadable(source, title, e) from None
    problems.raise_if_any()
    return raw, where


def _read_header(ws: Any, problems: _Problems, where: _Where) -> dict[str, Any]:
    ws.reset_dimensions()
    by_key = {norm(f.key): f for f in HEADER_FIELDS}
    raw: dict[str, Any] = {"submitted_by": {}}
    for number, row in enumerate(ws.iter_rows(min_row=2, max_col=2), start=2):
        if number > 1000:
            problems.add(
                _ref(ws.title, 1, number), "the Offer sheet goes on past row 1,000; it takes one row per field"
            )
            break
        key_cell, value_cell = (*row, None, None)[:2]
        key = getattr(key_cell, "value", None)
        value = getattr(value_cell, "value", None)
        if blank(key):
            if not blank(value):
                problems.add(_ref(ws.title, 1, number), "the field's name is missing; keep the names in column A")
            continue
        f = by_key.get(norm(str(key)))
        if f is None:
            known = ", ".join(f.key for f in HEADER_FIELDS)
            problems.add(_ref(ws.title, 1, number), f"{shown(key)} is not a field of an offer; the fields are {known}")
            continue
        where.header_rows[f.key] = number
        if blank(value):
            if f.key == "summary":
                raw["summary"] = ""
            elif f.key == "no_quotas_on_us_goods":
                raw[f.key] = False
            elif f.key == "schema_version":
                raw[f.key] = 1
            continue
        try:
            converted = convert(f, value, getattr(value_cell, "number_format", "General"))
        except Unreadable as e:
            problems.add(_ref(ws.title, 2, number), f"{f.label} {e}")
            continue
        if f.key.startswith("submitted_by."):
            raw["submitted_by"][f.key.split(".", 1)[1]] = converted
        else:
            raw[f.key] = converted
    raw.setdefault("schema_version", 1)
    return raw


def _read_sheet(ws: Any, sheet: Sheet, problems: _Problems, where: _Where) -> list[dict[str, Any]]:
    ws.reset_dimensions()
    rows = ws.iter_rows()
    header = next(rows, ())
    by_name = {name: c for c in sheet.columns for name in c.names()}
    at: dict[int, Column] = {}
    for i, cell in enumerate(header, start=1):
        value = getattr(cell, "value", None)
        if blank(value):
            continue
        column = by_name.get(norm(str(value)))
        if column is None:
            names = ", ".join(c.header for c in sheet.columns)
            problems.add(_ref(ws.title, i, 1), f"{shown(value)} is not a column of this sheet; the columns are {names}")
        elif column.key in (c.key for c in at.values()):
            problems.add(_ref(ws.title, i, 1), f"the column {column.header!r} appears twice")
        else:
            at[i] = column
    present = {c.key for c in at.values()}
    for c in sheet.columns:
        if c.key not in present and sheet.required(c):
            problems.add(f"{_title(ws.title)}!1:1", f"the column {c.header!r} is missing from row 1")
    where.columns[sheet.field] = {c.key: i for i, c in at.items()}
    if not at:
        return []
    width = max(at)
    found: list[dict[str, Any]] = []
    numbers: list[int] = []
    where.rows[sheet.field] = numbers
    for number, row in enumerate(ws.iter_rows(min_row=2, max_col=width), start=2):
        if number > MAX_SHEET_ROWS:
            problems.add(
                f"{_title(ws.title)}!{number}:{number}",
                f"the sheet goes on past row {MAX_SHEET_ROWS:,}; delete the rows below",
            )
            break
        item = _read_row(ws.title, row, number, at, problems)
        if item is None:
            continue
        if len(found) == sheet.max_rows:
            problems.add(
                f"{_title(ws.title)}!{number}:{number}",
                f"more than {sheet.max_rows:,} rows; an offer takes at most {sheet.max_rows:,} on this sheet",
            )
            break
        found.append(item)
        numbers.append(number)
    return found


def _read_row(
    title: str, row: tuple[Any, ...], number: int, at: dict[int, Column], problems: _Problems
) -> dict[str, Any] | None:
    item: dict[str, Any] = {}
    anything = False
    for i, column in at.items():
        cell = row[i - 1] if i <= len(row) else None
        value = getattr(cell, "value", None)
        if blank(value):
            if column.kind is Kind.TEXT:
                item[column.key] = "" if value is None else value
            continue
        anything = True
        try:
            item[column.key] = convert(
                column, value, getattr(cell, "number_format", "General") if column.kind is Kind.RATE else ""
            )
        except Unreadable as e:
            problems.add(_ref(title, i, number), f"{column.label} {e}")
    return item if anything else None


def _says(label: str, err: Any) -> str:
    return f"{label} is empty; fill it in" if err["type"] == "missing" else f"{label}: {err['msg']}"


def _schema_error(err: Any, where: _Where) -> tuple[str, str]:
    """A schema error at a document path, at the cell (or row, or sheet) the value came from."""
    loc: tuple[int | str, ...] = tuple(err["loc"])
    sheet = next((s for s in SHEETS if loc and s.field == loc[0]), None)
    if sheet is not None:
        rows = where.rows.get(sheet.field, [])
        if len(loc) < 2 or not isinstance(loc[1], int) or loc[1] >= len(rows):
            return _title(sheet.title), _says(field_path(loc), err)
        row = rows[loc[1]]
        column = next((c for c in sheet.columns if len(loc) > 2 and c.key == loc[2]), None)
        index = where.columns.get(sheet.field, {}).get(column.key) if column else None
        if column is None or index is None:
            return f"{_title(sheet.title)}!{row}:{row}", _says(field_path(loc[2:]) if len(loc) > 2 else "the row", err)
        return _ref(sheet.title, index, row), _says(column.label, err)
    key = ".".join(str(p) for p in loc)
    header = next((f for f in HEADER_FIELDS if f.key == key), None)
    if header is None:
        return HEADER_SHEET, _says(field_path(loc), err)
    at = where.header_rows.get(key)
    if at is None:
        return HEADER_SHEET, f"{header.label}: the row {key!r} is missing; add it with its name in column A"
    return _ref(HEADER_SHEET, 2, at), _says(header.label, err)
