"""The bounds a workbook is read within, and the small helpers that name a cell or a limit in a refusal.

The limits are far above what any offer needs (`LARGEST_OFFER_CELLS`: 25,000 tariff lines and every other list
full) and far below what takes a reader seconds or hundreds of MiB; `bounds` checks them.
"""

from __future__ import annotations

import re

from offers.inputs import UnusableInputError
from offers.spreadsheets.layout import SHEETS

MAX_PARTS = 1_000
"""Parts in the archive; a workbook has a few dozen."""
MAX_PART_BYTES = 64 << 20
"""One part, unpacked. A 25,000-line Tariffs sheet is about 7 MB."""
MAX_UNPACKED_BYTES = 128 << 20
"""All parts, unpacked. A full national schedule's workbook unpacks to about 10 MB."""
MAX_RATIO = 100
"""How many times its packed size a part may unpack to (Apache POI's bound too); sheets pack about 8 to 1."""
RATIO_GRACE_BYTES = 1 << 20
"""Bytes a part may unpack to before the ratio counts: tiny parts pack at any ratio."""
MAX_XML_ELEMENTS = 2_000_000
"""Elements in all XML parts; a 25,000-line workbook has about 400,000."""
MAX_PART_ELEMENTS = 50_000
"""Elements in a part openpyxl loads whole (styles, the workbook, relationships...): it builds an object of each."""
MAX_SHARED_STRINGS = 200_000
"""Texts in the shared strings; openpyxl loads them all before reading a cell."""
MAX_SHEET_ROWS = 100_000
"""Rows of a category sheet, blank ones included."""
MAX_HEADER_ROWS = 1_000
"""Rows of the Offer sheet, which takes one row per field."""
MAX_COLUMNS = 64
"""Columns (and cells in a row) of a sheet an offer is read from; the widest takes 5."""
MAX_CELLS = 300_000
"""Cells in all the sheets an offer is read from."""
LARGEST_OFFER_CELLS = sum((s.max_rows + 1) * len(s.columns) for s in SHEETS)
"""The cells of an offer with every list full (about 131,000)."""


def refusal(source: str, where: str, message: str) -> UnusableInputError:
    """`source: where: message`, with (where, message) as the field at fault."""
    return UnusableInputError(f"{source}: {where}: {message}", [(where, message)])


def column_letter(index: int) -> str:
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index


def sheet_ref(title: str) -> str:
    """A sheet's name as a formula writes it: quoted when it has spaces or dashes."""
    return f"'{title}'" if re.search(r"[^A-Za-z0-9_]", title) else title


def size_text(n: int) -> str:
    return f"{n >> 20} MiB" if n % (1 << 20) == 0 else f"{n:,} bytes"


def reason(e: Exception) -> str:
    """An exception as a few words for a refusal: its type and the first line of its message."""
    text = str(e).splitlines()[0][:160] if str(e) else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
