"""Writing offer workbooks: the blank template to fill in, or an offer written back out (it reads back the same).

Streamed (openpyxl's write-only mode), so a full national schedule writes in a second or two. Text is always
written as text: a cell never becomes a formula, whatever it starts with.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import IllegalCharacterError
from openpyxl.worksheet.datavalidation import DataValidation
from pydantic import BaseModel

from offers.inputs import UnusableInputError
from offers.spreadsheets.layout import (
    HEADER_COLUMNS,
    HEADER_FIELDS,
    HEADER_SHEET,
    INSTRUCTIONS,
    INSTRUCTIONS_SHEET,
    SHEETS,
    Kind,
    Sheet,
)
from schemas.offer import OfferDocument


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
