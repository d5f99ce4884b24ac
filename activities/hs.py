"""HS codes: format checks and the WTO Annex 1 agricultural/industrial split."""

from __future__ import annotations

from enum import StrEnum

from activities.reference import load_agricultural_prefixes


class GoodsKind(StrEnum):
    AGRICULTURAL = "agricultural"
    INDUSTRIAL = "industrial"
    MIXED = "mixed"
    """A code too short to tell: it covers both agricultural and industrial subheadings."""


class HSCodeError(ValueError):
    pass


def normalize_hs(code: str) -> str:
    """The digits of an HS code ("0201.30" -> "020130"), or an HSCodeError saying what is wrong."""
    digits = code.replace(".", "").replace(" ", "")
    if not digits.isdigit() or len(digits) not in (2, 4, 6, 8, 10):
        raise HSCodeError("an HS code has 2, 4, 6, 8 or 10 digits, dotted or not (for example 0201.30)")
    chapter = int(digits[:2])
    if chapter in (98, 99):
        raise HSCodeError(f"chapter {chapter:02d} holds US special provisions, not goods; use a chapter 01-97")
    if chapter == 0 or chapter == 77 or chapter > 97:
        raise HSCodeError(f"chapter {digits[:2]} does not exist; HS chapters run 01-97, and 77 is reserved")
    return digits


def _kind_of(digits: str, table: dict[str, str]) -> str:
    for length in range(len(digits), 1, -1):
        kind = table.get(digits[:length])
        if kind is not None:
            return kind
    return "industrial"


def classify_hs(code: str) -> GoodsKind:
    """Agricultural under WTO Annex 1, industrial (fish included), or mixed when the code is too short."""
    digits = normalize_hs(code)
    table = load_agricultural_prefixes()
    own = _kind_of(digits, table) == "agricultural"
    for prefix, kind in table.items():
        if len(prefix) > len(digits) and prefix.startswith(digits) and (kind == "agricultural") != own:
            return GoodsKind.MIXED
    return GoodsKind.AGRICULTURAL if own else GoodsKind.INDUSTRIAL
