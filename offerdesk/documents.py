"""Reading offer files: a syntax error names the line and column, a schema error each field path."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from schemas.offer import OfferDocument

MAX_OFFER_BYTES = 1024 * 1024


class UnusableInputError(ValueError):
    """Input nobody can act on as it is; the message says what to fix, `fields` each path at fault."""

    def __init__(self, message: str, fields: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


def field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def parse_offer(text: str | bytes, source: str = "offer") -> OfferDocument:
    if len(text) > MAX_OFFER_BYTES:
        raise UnusableInputError(f"{source}: {len(text):,} bytes is over the 1 MiB an offer may take")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise UnusableInputError(f"{source}: line {e.lineno}, column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError:
        raise UnusableInputError(f"{source}: is not UTF-8 text") from None
    try:
        return OfferDocument.model_validate(raw)
    except ValidationError as e:
        fields = [(field_path(err["loc"]), err["msg"]) for err in e.errors()]
        raise UnusableInputError("\n".join(f"{source}: {p}: {m}" for p, m in fields), fields) from None


def load_offer(path: Path) -> OfferDocument:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UnusableInputError(f"{path}: cannot read it ({e.strerror})") from None
    return parse_offer(data, str(path))
