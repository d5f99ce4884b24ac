"""An offer exported as a file: the workbook, the canonical JSON document, or its tariff lines as CSV."""

from __future__ import annotations

from offers.lines import tariff_lines_csv
from offers.spreadsheets.writing import write_workbook
from schemas.offer import OfferDocument


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
