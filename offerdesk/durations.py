"""Durations as people write them: 90s, 30m, 2h, 3d (and combinations such as 1d12h)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> timedelta:
    """'90s' -> 90 seconds; a ValueError that says the accepted forms otherwise."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f'"{text}" is not a duration; write it like 90s, 30m, 2h, 3d or 1d12h')
    total = timedelta()
    for number, unit in parts:
        total += timedelta(**{_UNITS[unit]: float(number)})
    if total <= timedelta(0):
        raise ValueError(f'"{text}" is not a positive duration')
    return total


def format_duration(delta: timedelta) -> str:
    """The two largest units, spaced, cut (not rounded) below them: '2 d 23 h', '1 h 1 m', '45 s'.

    A person reads it at a glance, and `parse_duration` reads it back.
    """
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0 s"
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    first = next(i for i, (_, size) in enumerate(units) if seconds >= size)
    out = [f"{seconds // units[first][1]} {units[first][0]}"]
    if first + 1 < len(units):
        unit, size = units[first + 1]
        if (seconds % units[first][1]) // size:
            out.append(f"{(seconds % units[first][1]) // size} {unit}")
    return " ".join(out)


def parse_deadline(text: str, now: datetime) -> datetime:
    """An ISO 8601 time with its zone, or a duration from now ('2h')."""
    try:
        return now + parse_duration(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f'"{text}" is not a deadline; give an ISO time with its zone (2026-12-02T17:00:00+01:00) '
            "or a duration from now (2h)"
        ) from None
    if when.tzinfo is None:
        raise ValueError(f'"{text}" has no time zone; add one, for example {text}+00:00 or {text}Z')
    return when
