"""Sign-in throttling: failures counted per account and per client address, then a wait that doubles.

The arithmetic is pure (tested directly); the failures are kept in the database, so every portal counts them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from offerdesk.people.db import Database, now

ACCOUNT_LIMIT = 5
"""Failed sign-ins for one account, within WINDOW, before it must wait."""
ADDRESS_LIMIT = 20
"""Failed sign-ins from one client address (any names), within WINDOW, before it must wait."""
WINDOW = timedelta(minutes=15)
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)


def backoff(failures: int, limit: int) -> timedelta:
    """How long to wait after the latest of `failures` recent failures: none below `limit`, then 30 s doubling with
    each further failure, at most 15 min."""
    if failures < limit:
        return timedelta(0)
    doublings: int = min(failures - limit, 20)
    wait: timedelta = FIRST_WAIT * (2**doublings)
    return min(wait, LONGEST_WAIT)


def locked_until(failures: Sequence[datetime], limit: int, at: datetime) -> datetime | None:
    """When sign-in may be tried again, given the failure times; None if it may be tried now."""
    recent = sorted(f for f in failures if timedelta(0) <= at - f < WINDOW)
    wait = backoff(len(recent), limit)
    if not wait:
        return None
    until = recent[-1] + wait
    return until if until > at else None


def seconds_left(until: datetime, at: datetime) -> int:
    """Whole seconds to wait, rounded up (for Retry-After)."""
    return max(1, math.ceil((until - at).total_seconds()))


def _span(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


@dataclass(frozen=True)
class Throttled:
    """Sign-in is refused until `until`, because of failures `whom` ("for ada", "from 192.0.2.7")."""

    whom: str
    until: datetime
    now: datetime

    @property
    def retry_after(self) -> int:
        return seconds_left(self.until, self.now)

    @property
    def message(self) -> str:
        return (
            f"too many failed sign-ins {self.whom}; try again in {_span(self.retry_after)} "
            f"(at {self.until:%H:%M:%S} UTC)"
        )


class SigninThrottle(Protocol):
    def throttled(self, name: str, address: str, at: datetime | None = None) -> Throttled | None:
        """Why sign-in must wait now (too many recent failures for this account, or from this address), if it must."""
        ...

    def failed(self, name: str, address: str, at: datetime | None = None) -> None: ...

    def succeeded(self, name: str) -> None:
        """A right password clears the account's failures (not the address's: one good account proves nothing)."""
        ...


def _account_key(name: str) -> str:
    return f"account:{name.strip().lower()}"


def _address_key(address: str) -> str:
    return f"address:{address}"


class SqliteThrottle:
    def __init__(self, db: Database) -> None:
        self._db = db

    def throttled(self, name: str, address: str, at: datetime | None = None) -> Throttled | None:
        at = at or now()
        since = (at - WINDOW).isoformat()
        checks = (
            (_account_key(name), ACCOUNT_LIMIT, f"for {name}"),
            (_address_key(address), ADDRESS_LIMIT, f"from {address}"),
        )
        worst: Throttled | None = None
        with self._db.transaction() as db:
            for key, limit, whom in checks:
                rows = db.execute("SELECT at FROM signin_failures WHERE key = ? AND at > ?", (key, since)).fetchall()
                until = locked_until([datetime.fromisoformat(r["at"]) for r in rows], limit, at)
                if until is not None and (worst is None or until > worst.until):
                    worst = Throttled(whom, until, at)
        return worst

    def failed(self, name: str, address: str, at: datetime | None = None) -> None:
        at = at or now()
        with self._db.transaction() as db:
            db.execute("DELETE FROM signin_failures WHERE at < ?", ((at - WINDOW).isoformat(),))
            db.executemany(
                "INSERT INTO signin_failures (key, at) VALUES (?, ?)",
                [(_account_key(name), at.isoformat()), (_address_key(address), at.isoformat())],
            )

    def succeeded(self, name: str) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM signin_failures WHERE key = ?", (_account_key(name),))
