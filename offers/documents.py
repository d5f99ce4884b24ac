"""Reading offer files: a syntax error names the line and column, a schema error each field path.

An .xlsx workbook (by its name or its ZIP magic bytes) is read by `offers.spreadsheets`, which names cells. The
size limit and the error both readers raise live in `offers.inputs` (re-exported here), so that imports point one
way: documents -> spreadsheets -> inputs, never back.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from offers.inputs import MAX_OFFER_BYTES, UnusableInputError, field_path
from schemas.offer import OfferDocument

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_OFFER_BYTES",
    "ZIP_MAGIC",
    "UnusableInputError",
    "field_path",
    "is_workbook",
    "load_offer",
    "parse_offer",
    "parse_offer_file",
]

MAX_JSON_DEPTH = 64
"""An offer nests 3 levels (document, list, item); the limit keeps a hostile document off the stack."""
MAX_JSON_VALUES = 1_000_000
"""The most values (strings, numbers, objects, lists) a JSON offer may hold, counted before it is parsed as its
commas and opening brackets (an upper bound: a comma inside a text counts too): a full schedule of 25,000 tariff
lines counts about 185,000. A 16 MiB body of a few million tiny values would take Python half a GiB and seconds
to build, holding up the portal meanwhile; this bound keeps any body under 100 MiB."""


class _NonFinite:
    """Stands in for NaN, Infinity or -Infinity, which Python's json accepts though JSON has no such numbers."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


# A path as a chain of (parent, key) links: built only for the few values reported, not for every node.
_Link = tuple["_Link", int | str] | None


def _loc(link: _Link) -> tuple[int | str, ...]:
    parts: list[int | str] = []
    while link is not None:
        link, key = link
        parts.append(key)
    return tuple(reversed(parts))


def _too_deep(source: str) -> UnusableInputError:
    return UnusableInputError(
        f"{source}: nested more than {MAX_JSON_DEPTH} levels deep; an offer document is 3 levels deep "
        "(the document, a list, its items): send the offer's JSON file"
    )


def _children(node: dict[str, object] | list[object]) -> Iterator[tuple[int | str, object]]:
    return iter(node.items()) if isinstance(node, dict) else enumerate(node)


def _non_finite(value: object) -> str | None:
    """What is wrong with a number JSON cannot carry, or None for any other value."""
    if isinstance(value, _NonFinite):
        return f"{value.literal} is {'not a number' if value.literal == 'NaN' else 'not a finite number'}"
    if isinstance(value, float) and not math.isfinite(value):
        # json turns a literal beyond the float range (1e400) into inf; NaN and Infinity came as _NonFinite.
        return "the number is too large to hold (over 1.8e308)"
    return None


def _non_finite_numbers(value: object, source: str) -> list[tuple[str, str]]:
    """Each NaN, infinity or overflowing number with its path, in document order; refuses nesting past the limit.

    Iterative (a stack of the open containers' iterators), so no document can exhaust Python's stack.
    """
    if not isinstance(value, dict | list):
        problem = _non_finite(value)
        return [("(document)", f"{problem}; give a finite number")] if problem else []
    found: list[tuple[str, str]] = []
    stack: list[tuple[Iterator[tuple[int | str, object]], _Link]] = [(_children(value), None)]
    while stack:
        children, link = stack[-1]
        for key, child in children:
            if isinstance(child, dict | list):
                if len(stack) >= MAX_JSON_DEPTH:
                    raise _too_deep(source)
                stack.append((_children(child), (link, key)))
                break
            if isinstance(child, float | _NonFinite) and (problem := _non_finite(child)):
                found.append((field_path(_loc((link, key))), f"{problem}; give a finite number"))
        else:
            stack.pop()
    return found


def _json_values_at_most(text: str | bytes) -> int:
    """An upper bound of the values a JSON text holds: every value but a container's first follows a comma."""
    if isinstance(text, str):
        return text.count(",") + text.count("{") + text.count("[") + 1
    return text.count(b",") + text.count(b"{") + text.count(b"[") + 1


def _too_large(source: str, size: int) -> UnusableInputError:
    return UnusableInputError(f"{source}: {size:,} bytes is over the {MAX_OFFER_BYTES >> 20} MiB an offer may take")


def parse_offer(text: str | bytes, source: str = "offer") -> OfferDocument:
    # Text counts in UTF-8 bytes, as it was sent; its length in characters can only be smaller.
    size = len(text) if isinstance(text, bytes) or len(text) > MAX_OFFER_BYTES else len(text.encode("utf-8", "replace"))
    if size > MAX_OFFER_BYTES:
        raise _too_large(source, size)
    if _json_values_at_most(text) > MAX_JSON_VALUES:
        raise UnusableInputError(
            f"{source}: holds more than the {MAX_JSON_VALUES:,} values an offer may (counted as its commas and "
            "brackets; a full schedule of 25,000 tariff lines counts about 185,000)"
        )
    try:
        raw = json.loads(text, parse_constant=_NonFinite)
    except json.JSONDecodeError as e:
        raise UnusableInputError(f"{source}: line {e.lineno}, column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError:
        raise UnusableInputError(f"{source}: is not UTF-8 text") from None
    except RecursionError:
        raise _too_deep(source) from None
    except ValueError as e:
        if "integer string conversion" not in str(e):
            raise
        # Python refuses integers of more digits than sys.get_int_max_str_digits(); no field of an offer takes one.
        raise UnusableInputError(
            f"{source}: a number has more than {sys.get_int_max_str_digits():,} digits; no field of an offer takes one"
        ) from None
    non_finite = _non_finite_numbers(raw, source)
    if non_finite:
        raise UnusableInputError("\n".join(f"{source}: {p}: {m}" for p, m in non_finite), non_finite)
    try:
        return OfferDocument.model_validate(raw)
    except ValidationError as e:
        fields = [(field_path(err["loc"]), err["msg"]) for err in e.errors()]
        raise UnusableInputError("\n".join(f"{source}: {p}: {m}" for p, m in fields), fields) from None


ZIP_MAGIC = b"PK\x03\x04"
"""How every .xlsx file begins (it is a ZIP archive); no JSON document can."""


def is_workbook(data: bytes, name: str = "") -> bool:
    return name.lower().endswith(".xlsx") or data.startswith(ZIP_MAGIC)


def parse_offer_file(data: bytes, source: str = "offer") -> OfferDocument:
    """A file's bytes as an offer: a JSON document, or an .xlsx workbook filled in from the template (read in a
    process of its own, under a memory and a time limit: `offers.spreadsheets.sandbox`). Anything in the bytes that
    cannot be an offer raises `UnusableInputError`, with a sentence saying why."""
    if is_workbook(data, source):
        from offers.spreadsheets.sandbox import read_workbook  # openpyxl only when a workbook comes

        return read_workbook(data, source)
    return parse_offer(data, source)


def load_offer(path: Path) -> OfferDocument:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_OFFER_BYTES + 1)
            size = path.stat().st_size if len(data) > MAX_OFFER_BYTES else len(data)
    except OSError as e:
        raise UnusableInputError(f"{path}: cannot read it ({e.strerror})") from None
    if size > MAX_OFFER_BYTES:
        raise _too_large(str(path), size)
    return parse_offer_file(data, str(path))
