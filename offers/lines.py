"""An offer's tariff lines, filtered and paged for reading, and as CSV: pure functions, quick for a full national
schedule."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import lru_cache

from offers.csvfile import csv_text
from offers.hs import HSCodeError, classify_hs, normalize_hs
from schemas.diff import LineKind, LinePage, NumberedLine
from schemas.offer import OfferDocument, TariffCommitment

PER_PAGE = 100
MAX_PER_PAGE = 1000
CHAPTER = re.compile(r"[0-9]{2}")
TARIFF_LINE_COLUMNS = tuple(TariffCommitment.model_fields)
"""hs_code, description, current_rate_pct, offered_rate_pct, staging_years: the CSV's header row."""


@lru_cache(maxsize=65_536)
def line_kind(code: str) -> tuple[str | None, LineKind]:
    """The HS chapter and kind of a code, once per distinct code: a schedule repeats its codes' classification."""
    try:
        digits = normalize_hs(code)
        return digits[:2], LineKind(classify_hs(digits).value)
    except HSCodeError:
        return None, LineKind.INVALID


def page_of(index: int, per_page: int = PER_PAGE) -> int:
    """The page (from 1) of the unfiltered lines that holds `tariff_commitments[index]`."""
    return index // per_page + 1


def filter_lines(
    doc: OfferDocument,
    chapter: str | None = None,
    kind: LineKind | None = None,
    no_change: bool = False,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> LinePage:
    """The lines on `chapter` (2 digits), of `kind`, and (with no_change) those whose offered rate is the current one.

    A page past the last gives the last page, so a link kept from before a filter narrowed still shows lines.
    """
    if chapter is not None and not CHAPTER.fullmatch(chapter):
        raise ValueError(f'chapter "{chapter}": give an HS chapter as 2 digits, such as 02 or 87')
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page {per_page}: give 1 to {MAX_PER_PAGE} lines a page")
    chapters: set[str] = set()
    matched: list[tuple[int, str | None, LineKind]] = []
    for index, line in enumerate(doc.tariff_commitments):
        line_chapter, line_kind_ = line_kind(line.hs_code)
        if line_chapter is not None:
            chapters.add(line_chapter)
        if chapter is not None and line_chapter != chapter:
            continue
        if kind is not None and line_kind_ is not kind:
            continue
        if no_change and line.offered_rate_pct != line.current_rate_pct:
            continue
        matched.append((index, line_chapter, line_kind_))  # models for the shown page only
    pages = max(1, -(-len(matched) // per_page))
    page = min(max(1, page), pages)
    return LinePage(
        total=len(doc.tariff_commitments),
        matched=len(matched),
        page=page,
        per_page=per_page,
        pages=pages,
        chapter=chapter,
        kind=kind,
        no_change=no_change,
        chapters=sorted(chapters),
        lines=[
            NumberedLine(index=i, chapter=c, kind=k, line=doc.tariff_commitments[i])
            for i, c, k in matched[(page - 1) * per_page : page * per_page]
        ],
    )


def tariff_lines_csv(lines: Sequence[TariffCommitment]) -> str:
    """Every tariff line as CSV, a header row first, in Offerdesk's one dialect (offers.csvfile): rates are
    numbers that read back exactly; text a spreadsheet would run as a formula starts with an apostrophe.

    The letter attaches it as tariff-lines.csv, and an offer exported as .csv is this."""
    rows = ([getattr(t, c) for c in TARIFF_LINE_COLUMNS] for t in lines)
    return csv_text(itertools.chain([TARIFF_LINE_COLUMNS], rows))
