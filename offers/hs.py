"""HS codes: format checks and the WTO Annex 1 agricultural/industrial split."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from offers.reference import load_agricultural_prefixes


class GoodsKind(StrEnum):
    AGRICULTURAL = "agricultural"
    INDUSTRIAL = "industrial"
    MIXED = "mixed"
    """A code too short to tell: it covers both agricultural and industrial subheadings."""


class HSCodeError(ValueError):
    pass


# ASCII digits only: str.isdigit() also takes "²", "０" and "٠", which int() then rejects or misreads.
_DIGITS = re.compile(r"[0-9]+")


def normalize_hs(code: str) -> str:
    """The digits of an HS code ("0201.30" -> "020130"), or an HSCodeError saying what is wrong."""
    digits = code.replace(".", "").replace(" ", "")
    if not _DIGITS.fullmatch(digits) or len(digits) not in (2, 4, 6, 8, 10):
        raise HSCodeError("an HS code has 2, 4, 6, 8 or 10 digits, dotted or not (for example 0201.30)")
    chapter = int(digits[:2])
    if chapter in (98, 99):
        raise HSCodeError(f"chapter {chapter:02d} holds US special provisions, not goods; use a chapter 01-97")
    if chapter == 0 or chapter == 77 or chapter > 97:
        raise HSCodeError(f"chapter {digits[:2]} does not exist; HS chapters run 01-97, and 77 is reserved")
    return digits


class _Annex(NamedTuple):
    """The agricultural table, arranged so that classifying a code takes a few dictionary lookups."""

    agricultural: dict[str, bool]
    """Whether each prefix in the table is agricultural."""
    lengths: tuple[int, ...]
    """The prefix lengths the table has, longest first."""
    below: dict[str, frozenset[bool]]
    """For every prefix of an entry, the kinds of the longer entries under it: a code with another kind than its own
    under it is MIXED."""


@lru_cache(maxsize=1)
def _annex() -> _Annex:
    table = {prefix: kind == "agricultural" for prefix, kind in load_agricultural_prefixes().items()}
    below: dict[str, set[bool]] = {}
    for prefix, agricultural in table.items():
        for length in range(2, len(prefix)):
            below.setdefault(prefix[:length], set()).add(agricultural)
    lengths = tuple(sorted({len(prefix) for prefix in table}, reverse=True))
    return _Annex(table, lengths, {prefix: frozenset(kinds) for prefix, kinds in below.items()})


def classify_hs(code: str) -> GoodsKind:
    """Agricultural under WTO Annex 1, industrial (fish included), or mixed when the code is too short."""
    digits = normalize_hs(code)
    annex = _annex()
    # The longest table prefix the code starts with decides (digits[:n] past its length is the code itself).
    own = next((annex.agricultural[digits[:n]] for n in annex.lengths if digits[:n] in annex.agricultural), False)
    if (not own) in annex.below.get(digits, frozenset()):
        return GoodsKind.MIXED
    return GoodsKind.AGRICULTURAL if own else GoodsKind.INDUSTRIAL
