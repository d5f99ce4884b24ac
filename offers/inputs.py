"""What every reader of offer files shares: how large an offer may be, and the error that says what to fix.

`offers.documents` reads JSON documents and `offers.spreadsheets` reads workbooks; both raise `UnusableInputError`
naming each field path (or cell) at fault. Both know this module; it knows neither.
"""

from __future__ import annotations

MAX_OFFER_BYTES = 16 * 1024 * 1024
"""A full national schedule (25,000 tariff lines) with room to spare."""


class UnusableInputError(ValueError):
    """Input nobody can act on as it is; the message says what to fix, `fields` each path at fault."""

    def __init__(self, message: str, fields: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


def field_path(loc: tuple[int | str, ...]) -> str:
    """A schema error's location as a path into the document: tariff_commitments[3].offered_rate_pct."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"
