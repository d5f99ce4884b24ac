"""Offer documents as .xlsx workbooks: a blank template, reading a filled one, writing a document back out.

One sheet per category plus an "Offer" sheet for the header fields. Reading names the sheet, row and column of
every cell it cannot use (`Tariffs!D14: offered rate 'three' is not a number`), and maps the schema's errors
back to cells, so a negotiator fixes the workbook, not a JSON path.

- `layout`: the sheets, their columns, the header fields and the instructions: what both directions follow;
- `writing`: the template, and an offer written out as a workbook;
- `reading` (with `cells`, a cell's value by its column's kind): a filled-in workbook as an offer, read in a
  process of its own (`sandbox`) under a memory and a time limit, after its bounds are checked (`bounds`);
- `export`: an offer as a file to download: .xlsx, .json or .csv.

The names below are imported when first used, so that the reading process imports only what reading needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from offers.spreadsheets.export import export_offer
    from offers.spreadsheets.layout import XLSX_MEDIA_TYPE
    from offers.spreadsheets.sandbox import read_workbook
    from offers.spreadsheets.writing import write_workbook

__all__ = ["XLSX_MEDIA_TYPE", "export_offer", "read_workbook", "write_workbook"]

_FROM = {
    "XLSX_MEDIA_TYPE": "layout",
    "export_offer": "export",
    "read_workbook": "sandbox",
    "write_workbook": "writing",
}


def __getattr__(name: str) -> object:
    if name in _FROM:
        return getattr(import_module(f"offers.spreadsheets.{_FROM[name]}"), name)
    raise AttributeError(f"module 'offers.spreadsheets' has no attribute {name!r}")
