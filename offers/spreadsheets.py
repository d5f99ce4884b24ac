"""Offer documents as .xlsx workbooks: a blank template, reading a filled one, writing a document back out.

One sheet per category plus an "Offer" sheet for the header fields. Reading names the sheet, row and column of
every cell it cannot use (`Tariffs!D14: offered rate 'three' is not a number`), and maps the schema's errors
back to cells, so a negotiator fixes the workbook, not a JSON path.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, get_args

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import IllegalCharacterError, InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation
from pydantic import BaseModel, ValidationError

from offers.documents import MAX_OFFER_BYTES, UnusableInputError, field_path
from offers.lines import tariff_lines_csv
from schemas.offer import (
    CountrySpecificCommitment,
    DigitalTradePledge,
    EconomicSecurityPledge,
    NonTariffBarrier,
    OfferDocument,
    QuotaCommitment,
    TariffCommitment,
)

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
"""A 25,000-line workbook unpacks to about 10 MB; far more is a ZIP bomb, not an offer."""
MAX_SHEET_ROWS = 100_000
"""Rows read from one sheet, blank ones included, before it is refused: bounds the time a hostile file takes."""
MAX_REPORTED = 200
"""Unusable cells listed in `fields`; the message itself lists the first few."""
SHOWN_IN_MESSAGE = 20

HEADER_SHEET = "Offer"
INSTRUCTIONS_SHEET = "Instructions"


class Kind(Enum):
    TEXT = "text"
    NUMBER = "number"
    RATE = "rate"  # a percentage: a cell formatted as % (0.12 shown as 12%) reads as 12
    WHOLE = "whole number"
    DATE = "date"
    CHOICE = "choice"
    YES_NO = "yes/no"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    label: str
    kind: Kind
    help: str
    width: int = 14
    choices: tuple[str, ...] = ()

    def names(self) -> set[str]:
        return {_norm(self.header), _norm(self.key)}


@dataclass(frozen=True)
class Sheet:
    title: str
    field: str
    model: type[BaseModel]
    columns: tuple[Column, ...]

    @property
    def max_rows(self) -> int:
        for meta in OfferDocument.model_fields[self.field].metadata:
            if isinstance(getattr(meta, "max_length", None), int):
                return int(meta.max_length)
        raise AssertionError(f"{self.field} has no max_length")

    def required(self, column: Column) -> bool:
        return self.model.model_fields[column.key].is_required()


def _choices(model: type[BaseModel], key: str) -> tuple[str, ...]:
    return tuple(get_args(model.model_fields[key].annotation))


NTB_ACTIONS = _choices(NonTariffBarrier, "action")
DIGITAL_TOPICS = _choices(DigitalTradePledge, "topic")
SECURITY_TOPICS = _choices(EconomicSecurityPledge, "topic")
_HS = "HS code, as text with its leading zero and dots: 0201.30"

SHEETS: tuple[Sheet, ...] = (
    Sheet(
        "Tariffs",
        "tariff_commitments",
        TariffCommitment,
        (
            Column("hs_code", "HS code", "HS code", Kind.TEXT, _HS, 14),
            Column("description", "Description", "description", Kind.TEXT, "what the line covers", 50),
            Column("current_rate_pct", "Current rate %", "current rate", Kind.RATE, "today's duty, in %: 21.6", 16),
            Column("offered_rate_pct", "Offered rate %", "offered rate", Kind.RATE, "the duty offered, in %: 9", 16),
            Column("staging_years", "Staging years", "staging years", Kind.WHOLE, "years to phase in; 0 = at once"),
        ),
    ),
    Sheet(
        "Quotas",
        "quota_commitments",
        QuotaCommitment,
        (
            Column("hs_code", "HS code", "HS code", Kind.TEXT, _HS, 14),
            Column("description", "Description", "description", Kind.TEXT, "what the quota covers", 50),
            Column("current_quota_tonnes", "Current quota (t)", "current quota", Kind.NUMBER, "tonnes today", 18),
            Column("offered_quota_tonnes", "Offered quota (t)", "offered quota", Kind.NUMBER, "tonnes offered", 18),
            Column("in_quota_rate_pct", "In-quota rate %", "in-quota rate", Kind.RATE, "duty within the quota", 16),
        ),
    ),
    Sheet(
        "Non-tariff barriers",
        "non_tariff_barriers",
        NonTariffBarrier,
        (
            Column("measure", "Measure", "measure", Kind.TEXT, "the barrier", 50),
            Column("action", "Action", "action", Kind.CHOICE, "one of the list", 12, NTB_ACTIONS),
            Column("detail", "Detail", "detail", Kind.TEXT, "how (may be empty)", 60),
            Column("effective_by", "Effective by", "effective date", Kind.DATE, "a date: 2026-01-31", 14),
        ),
    ),
    Sheet(
        "Digital trade",
        "digital_trade",
        DigitalTradePledge,
        (
            Column("topic", "Topic", "topic", Kind.CHOICE, "one of the list", 32, DIGITAL_TOPICS),
            Column("pledge", "Pledge", "pledge", Kind.TEXT, "what is pledged", 80),
        ),
    ),
    Sheet(
        "Economic security",
        "economic_security",
        EconomicSecurityPledge,
        (
            Column("topic", "Topic", "topic", Kind.CHOICE, "one of the list", 24, SECURITY_TOPICS),
            Column("pledge", "Pledge", "pledge", Kind.TEXT, "what is pledged", 80),
        ),
    ),
    Sheet(
        "Country-specific",
        "country_specific",
        CountrySpecificCommitment,
        (
            Column("commitment", "Commitment", "commitment", Kind.TEXT, "a purchase, investment, sector deal", 80),
            Column("value_usd", "Value (USD)", "value", Kind.NUMBER, "in US dollars (may be empty)", 18),
            Column("by_year", "By year", "year", Kind.WHOLE, "the year it is met by (may be empty)", 10),
        ),
    ),
)

# The "Offer" sheet: one row per header field, its key in column A and its value in column B.
HEADER_FIELDS: tuple[Column, ...] = (
    Column("schema_version", "", "schema version", Kind.WHOLE, "always 1"),
    Column("round_id", "", "round id", Kind.TEXT, "the round you were invited to, such as 2025-06-best-offers"),
    Column("partner", "", "partner", Kind.TEXT, "your two-letter partner code, such as JP"),
    Column("submitted_by.name", "", "contact name", Kind.TEXT, "the partner's contact for this offer"),
    Column("submitted_by.email", "", "contact email", Kind.TEXT, "their email address"),
    Column("summary", "", "summary", Kind.TEXT, "the offer in a few sentences (may be empty)"),
    Column(
        "no_quotas_on_us_goods",
        "",
        "no quotas on US goods",
        Kind.YES_NO,
        "yes if you keep no quotas on US goods (then the Quotas sheet may stay empty)",
        choices=("yes", "no"),
    ),
)
HEADER_COLUMNS = ("Field", "Value", "What to enter")

INSTRUCTIONS = (
    "How to fill in this offer workbook (Offerdesk, offer schema version 1)",
    "",
    "1. On the Offer sheet, fill in column B: the round id and your partner code as in your invitation, the "
    "partner's contact, a summary, and whether you keep no quotas on US goods (yes/no).",
    "2. One sheet per category: Tariffs, Quotas, Non-tariff barriers, Digital trade, Economic security, "
    "Country-specific. One commitment per row, from row 2; keep the headers in row 1. Leave a sheet empty (or "
    "delete it) when you offer nothing there: validation then reports that category as missing.",
    "3. Rates are in percent: type 9 for 9% (a cell formatted as a percentage, showing 9%, reads as 9 too).",
    "4. Type HS codes as text with their leading zero and dots (0201.30): the column is formatted as text; "
    "an HS code Excel has turned into a number is refused, as its leading zero is lost.",
    "5. Action (remove, reform, recognize), the topics, and yes/no come from the drop-down lists.",
    "6. Dates as dates or as text like 2026-01-31. Empty rows are skipped. Up to 25,000 tariff lines.",
    "7. Save as .xlsx and send it: 'offerdesk offer submit FILE.xlsx' (or 'offer amend'), or upload it on the "
    "offer's page in the portal. A cell that cannot be read is named with its sheet, row and column, such as "
    "Tariffs!D14; fix it and send the workbook again.",
    "",
    "Sheets other than these are ignored. The same offer as JSON: "
    "'offerdesk offer export ROUND PARTNER -o offer.json'.",
)


def _norm(text: str) -> str:
    return re.sub(r"[\s_-]+", " ", text).strip().lower()


# ---- writing -------------------------------------------------------------------------------------


def _text_cell(ws: Any, value: str, bold: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"  # never a formula, whatever the text starts with
    if bold:
        cell.font = Font(bold=True)
    return cell


def _cell(ws: Any, value: Any) -> Any:
    if isinstance(value, str):
        return _text_cell(ws, value)
    if isinstance(value, date):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return value


def _list_validation(choices: tuple[str, ...], ref: str, what: str) -> DataValidation:
    dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True, showErrorMessage=True)
    dv.error = f"Choose the {what} from the list: {', '.join(choices)}"
    dv.errorTitle = f"Not a {what}"
    dv.add(ref)
    return dv


def write_workbook(document: OfferDocument | None = None, round_id: str = "", partner: str = "") -> bytes:
    """The offer as a workbook; without a document, the blank template (its header optionally filled in)."""
    if document is not None and (where := _unstorable(document)) is not None:
        raise UnusableInputError(
            f"the offer's {where} holds a control character that a spreadsheet cannot store; export it as .json"
        )
    wb = Workbook(write_only=True)
    _write_instructions(wb.create_sheet(INSTRUCTIONS_SHEET))
    header = {
        "schema_version": 1,
        "round_id": document.round_id if document else round_id,
        "partner": document.partner if document else partner,
        "submitted_by.name": document.submitted_by.name if document else "",
        "submitted_by.email": document.submitted_by.email if document else "",
        "summary": document.summary if document else "",
        "no_quotas_on_us_goods": "yes" if document and document.no_quotas_on_us_goods else "no",
    }
    title = HEADER_SHEET
    try:
        _write_header(wb.create_sheet(HEADER_SHEET), header)
        for sheet in SHEETS:
            title = sheet.title
            _write_sheet(wb.create_sheet(sheet.title), sheet, getattr(document, sheet.field) if document else [])
        out = io.BytesIO()
        wb.save(out)
    except IllegalCharacterError:  # _unstorable checks first; this is the backstop
        raise UnusableInputError(
            f"the offer's {title} holds a control character that a spreadsheet cannot store; export it as .json"
        ) from None
    return out.getvalue()


def _unstorable(document: OfferDocument) -> str | None:
    """The sheet of the first text an .xlsx file cannot hold (control characters), checked before writing starts."""
    header = (document.round_id, document.partner, document.submitted_by.name, document.submitted_by.email)
    if any(ILLEGAL_CHARACTERS_RE.search(text) for text in (*header, document.summary)):
        return HEADER_SHEET
    for sheet in SHEETS:
        for item in getattr(document, sheet.field):
            if any(isinstance(v, str) and ILLEGAL_CHARACTERS_RE.search(v) for v in item.model_dump().values()):
                return sheet.title
    return None


def _write_header(ws: Any, header: dict[str, object]) -> None:
    for letter, width in zip("ABC", (24, 60, 70), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    yes_no = 2 + [c.key for c in HEADER_FIELDS].index("no_quotas_on_us_goods")
    ws.data_validations.append(_list_validation(("yes", "no"), f"B{yes_no}", "answer"))
    ws.append([_text_cell(ws, h, bold=True) for h in HEADER_COLUMNS])
    for f in HEADER_FIELDS:
        value = header[f.key]
        ws.append([_text_cell(ws, f.key), _cell(ws, value) if value != "" else None, _text_cell(ws, f.help)])


def _write_instructions(ws: Any) -> None:
    ws.column_dimensions["A"].width = 120
    for i, line in enumerate(INSTRUCTIONS):
        cell = _text_cell(ws, line, bold=i == 0)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.append([cell])


def _write_sheet(ws: Any, sheet: Sheet, rows: Sequence[BaseModel]) -> None:
    last = sheet.max_rows + 1
    # A streamed sheet has no <dimension>; openpyxl's read-only mode then parses the whole sheet once just to
    # size it. Saying the size up front halves the time to read an exported schedule back.
    size = f"A1:{get_column_letter(len(sheet.columns))}{len(rows) + 1}"
    ws.calculate_dimension = lambda: size
    for i, c in enumerate(sheet.columns, start=1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = c.width
        if c.key == "hs_code":
            ws.column_dimensions[letter].number_format = "@"  # typed codes stay text: 0201.30, not 201.3
        if c.kind is Kind.CHOICE:
            ws.data_validations.append(_list_validation(c.choices, f"{letter}2:{letter}{last}", c.label))
    ws.freeze_panes = "A2"
    ws.append([_text_cell(ws, c.header, bold=True) for c in sheet.columns])
    keys = [c.key for c in sheet.columns]
    for row in rows:
        values = row.model_dump()
        ws.append([_cell(ws, values[k]) if values[k] is not None else None for k in keys])


def export_offer(document: OfferDocument, fmt: str) -> bytes:
    """The document as `fmt`: "xlsx" (reads back as the same document), "json" (canonical, so its SHA-256 is the
    document's digest) or "csv" (the tariff lines only)."""
    if fmt == "json":
        return document.model_dump_json().encode()
    if fmt == "csv":
        return tariff_lines_csv(document.tariff_commitments).encode()
    if fmt == "xlsx":
        return write_workbook(document)
    raise ValueError(f"no export as {fmt!r}; choose xlsx, json or csv")


# ---- reading -------------------------------------------------------------------------------------


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


def _title(sheet: str) -> str:
    """A sheet's name as a formula writes it: quoted when it has spaces or dashes."""
    return f"'{sheet}'" if re.search(r"[^A-Za-z0-9_]", sheet) else sheet


def _ref(sheet: str, column: int, row: int) -> str:
    return f"{_title(sheet)}!{get_column_letter(column)}{row}"


def _shown(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[+-]?[0-9]+")


class _Unreadable(Exception):
    """A cell's value cannot be what its column takes; the message follows the column's label."""


def _convert(column: Column, value: object, number_format: str) -> object:
    """The cell's value as the document takes it, or _Unreadable saying why not."""
    kind = column.kind
    if kind is Kind.TEXT:
        if isinstance(value, str):
            return value
        if column.key == "hs_code" and isinstance(value, int | float):
            raise _Unreadable(
                f"is the number {value:g}, so its leading zero and dots are lost; format the column as text and "
                "type the code as 0201.30"
            )
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, datetime):
            return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        return str(value)
    if kind in (Kind.NUMBER, Kind.RATE):
        number = _number(value)
        if number is None:
            raise _Unreadable(f"{_shown(value)} is not a number")
        if not math.isfinite(number):
            raise _Unreadable(f"{_shown(value)} is not a finite number")
        if kind is Kind.RATE and isinstance(value, int | float) and "%" in number_format:
            number = round(number * 100, 10)  # shown as 12%, stored as 0.12
        return number
    if kind is Kind.WHOLE:
        if isinstance(value, bool):
            raise _Unreadable(f"{_shown(value)} is not a whole number")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
            return int(value.strip())
        raise _Unreadable(f"{_shown(value)} is not a whole number")
    if kind is Kind.DATE:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise _Unreadable(f"{_shown(value)} is not a date; enter a date, or text like 2026-01-31")
    if kind is Kind.CHOICE:
        wanted = re.sub(r"[\s-]+", "_", str(value).strip().lower())
        if wanted in column.choices:
            return wanted
        raise _Unreadable(f"{_shown(value)} is not one of {', '.join(column.choices)}")
    # Kind.YES_NO
    if isinstance(value, bool):
        return value
    answer = str(value).strip().lower()
    if answer in ("yes", "y", "true", "1"):
        return True
    if answer in ("no", "n", "false", "0"):
        return False
    raise _Unreadable(f"{_shown(value)} is not yes or no")


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
        if _NUMBER.fullmatch(text):
            return float(text)
    return None


@dataclass
class _Where:
    """Where each part of the document came from, to name cells in the schema's errors."""

    header_rows: dict[str, int]
    rows: dict[str, list[int]]
    columns: dict[str, dict[str, int]]


def read_workbook(data: bytes, source: str = "offer.xlsx") -> OfferDocument:
    """A filled-in workbook as an offer document, validated as a JSON document is."""
    if len(data) > MAX_OFFER_BYTES:
        raise UnusableInputError(
            f"{source}: {len(data):,} bytes is over the {MAX_OFFER_BYTES >> 20} MiB an offer may take"
        )
    _check_archive(data, source)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as e:
        raise UnusableInputError(
            f"{source}: is not an .xlsx workbook that can be read ({type(e).__name__}); save it from your spreadsheet "
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


def _check_archive(data: bytes, source: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(i.file_size for i in archive.infolist())
    except zipfile.BadZipFile:
        raise UnusableInputError(
            f"{source}: is not an .xlsx workbook (not a ZIP archive); save it as Excel workbook (.xlsx), or send the "
            "offer's JSON document"
        ) from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise UnusableInputError(
            f"{source}: unpacks to {unpacked:,} bytes, over the {MAX_UNPACKED_BYTES >> 20} MiB a workbook may take"
        )


def _read(wb: Any, source: str) -> tuple[dict[str, Any], _Where]:
    problems = _Problems(source)
    titles = {_norm(t): t for t in wb.sheetnames}
    if _norm(HEADER_SHEET) not in titles:
        problems.add(HEADER_SHEET, f"the workbook has no sheet '{HEADER_SHEET}'; start from 'offerdesk offer template'")
        problems.raise_if_any()
    where = _Where({}, {}, {})
    raw = _read_header(wb[titles[_norm(HEADER_SHEET)]], problems, where)
    for sheet in SHEETS:
        if _norm(sheet.title) in titles:
            raw[sheet.field] = _read_sheet(wb[titles[_norm(sheet.title)]], sheet, problems, where)
    problems.raise_if_any()
    return raw, where


def _read_header(ws: Any, problems: _Problems, where: _Where) -> dict[str, Any]:
    ws.reset_dimensions()
    by_key = {_norm(f.key): f for f in HEADER_FIELDS}
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
        if _blank(key):
            if not _blank(value):
                problems.add(_ref(ws.title, 1, number), "the field's name is missing; keep the names in column A")
            continue
        f = by_key.get(_norm(str(key)))
        if f is None:
            known = ", ".join(f.key for f in HEADER_FIELDS)
            problems.add(_ref(ws.title, 1, number), f"{_shown(key)} is not a field of an offer; the fields are {known}")
            continue
        where.header_rows[f.key] = number
        if _blank(value):
            if f.key == "summary":
                raw["summary"] = ""
            elif f.key == "no_quotas_on_us_goods":
                raw[f.key] = False
            elif f.key == "schema_version":
                raw[f.key] = 1
            continue
        try:
            converted = _convert(f, value, getattr(value_cell, "number_format", "General"))
        except _Unreadable as e:
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
        if _blank(value):
            continue
        column = by_name.get(_norm(str(value)))
        if column is None:
            names = ", ".join(c.header for c in sheet.columns)
            problems.add(
                _ref(ws.title, i, 1), f"{_shown(value)} is not a column of this sheet; the columns are {names}"
            )
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
        if _blank(value):
            if column.kind is Kind.TEXT:
                item[column.key] = "" if value is None else value
            continue
        anything = True
        try:
            item[column.key] = _convert(
                column, value, getattr(cell, "number_format", "General") if column.kind is Kind.RATE else ""
            )
        except _Unreadable as e:
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
