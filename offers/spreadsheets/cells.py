"""A cell's value as the offer document takes it, by its column's kind; or why it cannot be."""

from __future__ import annotations

import math
import re
from datetime import date, datetime

from offers.spreadsheets.layout import Column, Kind


def shown(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[+-]?[0-9]+")


class Unreadable(Exception):
    """A cell's value cannot be what its column takes; the message follows the column's label."""


def convert(column: Column, value: object, number_format: str) -> object:
    """The cell's value as the document takes it, or Unreadable saying why not."""
    kind = column.kind
    if kind is Kind.TEXT:
        if isinstance(value, str):
            return value
        if column.key == "hs_code" and isinstance(value, int | float):
            raise Unreadable(
                f"is the number {value:g}, so its leading zero and dots are lost; format the column as text and "
                "type the code as 0201.30"
            )
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, datetime):
            return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        return str(value)
    if kind in (Kind.NUMBER, Kind.RATE):
        number = _number(value)
        if number is None:
            raise Unreadable(f"{shown(value)} is not a number")
        if not math.isfinite(number):
            raise Unreadable(f"{shown(value)} is not a finite number")
        if kind is Kind.RATE and isinstance(value, int | float) and "%" in number_format:
            number = round(number * 100, 10)  # shown as 12%, stored as 0.12
        return number
    if kind is Kind.WHOLE:
        if isinstance(value, bool):
            raise Unreadable(f"{shown(value)} is not a whole number")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
            return int(value.strip())
        raise Unreadable(f"{shown(value)} is not a whole number")
    if kind is Kind.DATE:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise Unreadable(f"{shown(value)} is not a date; enter a date, or text like 2026-01-31")
    if kind is Kind.CHOICE:
        wanted = re.sub(r"[\s-]+", "_", str(value).strip().lower())
        if wanted in column.choices:
            return wanted
        raise Unreadable(f"{shown(value)} is not one of {', '.join(column.choices)}")
    # Kind.YES_NO
    if isinstance(value, bool):
        return value
    answer = str(value).strip().lower()
    if answer in ("yes", "y", "true", "1"):
        return True
    if answer in ("no", "n", "false", "0"):
        return False
    raise Unreadable(f"{shown(value)} is not yes or no")


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
        if _NUMBER.fullmatch(text):
            return float(text)
    return None
