"""Offer documents as .xlsx workbooks: a blank template, reading a filled one, writing a document back out.

One sheet per category plus an "Offer" sheet for the header fields. Reading names the sheet, row and column of
every cell it cannot use (`Tariffs!D14: offered rate 'three' is not a number`), and maps the schema's errors
back to cells, so a negotiator fixes the workbook, not a JSON path.

- `layout`: the sheets, their columns, the header fields and the instructions: what both directions follow;
- `writing`: the template, and an offer written out as a workbook;
- `reading` (with `cells`, a cell's value by its column's kind): a filled-in workbook as an offer;
- `export`: an offer as a file to download: .xlsx, .json or .csv.
"""

from offers.spreadsheets.export import export_offer
from offers.spreadsheets.layout import XLSX_MEDIA_TYPE
from offers.spreadsheets.reading import read_workbook
from offers.spreadsheets.writing import write_workbook

__all__ = ["XLSX_MEDIA_TYPE", "export_offer", "read_workbook", "write_workbook"]
