"""Sign-in throttling: attempts counted per account and per client address, then a wait that doubles.

Each attempt is counted before its password is checked, by one upsert a key that only counts while the key is not
waiting: the database settles it, so twenty attempts at once on any number of portals get the same five tries
one at a time would. A right password takes its attempt back (and clears the account's count). The arithmetic is
pure and tested directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, case, delete, literal, null, or_, select, update

from offerdesk.people.db import Database, Moment, now
from offerdesk.people.schema import signin_throttle

ACCOUNT_LIMIT = 5
"""Failed sign-ins for one account, within WINDOW of each other, before it must wait."""
ADDRESS_LIMIT = 20
"""Failed sign-ins from one client address (any names), within WINDOW of each other, before it must wait."""
WINDOW = timedelta(minutes=15)
"""A key with no attempt for this long starts counting again from zero."""
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


def lock_after(failures: int, limit: int, at: datetime) -> datetime | None:
    """Until when a key must wait once its `failures`-th recent failure came at `at`; None if it need not."""
    wait = backoff(failures, limit)
    return at + wait if wait else None


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
    def attempt(self, name: str, address: str, at: datetime | None = None) -> Throttled | None:
        """Count a sign-in attempt against the account and the address, as a failure until `succeeded` says
        otherwise; or, counting nothing, why it must wait (too many recent failures for either)."""
        ...

    def succeeded(self, name: str, address: str) -> None:
        """A right password: the account's failures are cleared, and the address's count gives this attempt back
        (its earlier failures stay: one good account proves nothing)."""
        ...

    def throttled(self, name: str, address: str, at: datetime | None = None) -> Throttled | None:
        """Why sign-in must wait now, if it must; counts nothing."""
        ...


def _account_key(name: str) -> str:
    return f"account:{name.strip().lower()}"


def _address_key(address: str) -> str:
    return f"address:{address}"


class _Waiting(Exception):
    """One key must wait: the attempt's transaction is rolled back, so the other key does not count it either."""

    def __init__(self, key: str, whom: str) -> None:
        super().__init__(key)
        self.key, self.whom = key, whom


def _lock_for(failures: ColumnElement[Any], limit: int, at: datetime) -> ColumnElement[Any]:
    """`lock_after` as SQL, for a count the database computes: one branch per doubling (six in all)."""
    whens: list[tuple[ColumnElement[bool], Any]] = [(failures < limit, null())]
    extra = 0
    while (wait := backoff(limit + extra, limit)) < LONGEST_WAIT:
        whens.append((failures == limit + extra, literal(at + wait, Moment())))
        extra += 1
    return case(*whens, else_=literal(at + LONGEST_WAIT, Moment()))


class DatabaseThrottle:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _checks(self, name: str, address: str) -> tuple[tuple[str, int, str], ...]:
        return (
            (_account_key(name), ACCOUNT_LIMIT, f"for {name}"),
            (_address_key(address), ADDRESS_LIMIT, f"from {address}"),
        )

    def attempt(self, name: str, address: str, at: datetime | None = None) -> Throttled | None:
        at = at or now()
        try:
            with self._db.begin() as db:
                for key, limit, whom in self._checks(name, address):
                    if db.execute(self._count(key, limit, at)).first() is None:
                        raise _Waiting(key, whom)
        except _Waiting as waiting:
            return self._why(waiting.key, waiting.whom, at)
        with self._db.begin() as db:  # keys quiet for a WINDOW and not waiting would count from zero: drop them
            t = signin_throttle
            stale = or_(t.c.locked_until.is_(None), t.c.locked_until <= at)
            db.execute(delete(t).where(t.c.last_at <= at - WINDOW, stale))
        return None

    def _count(self, key: str, limit: int, at: datetime) -> Any:
        """One statement: count this attempt, and set the wait a failure would start, unless the key is waiting
        now (then no row comes back). Quiet for a WINDOW, the count starts again at one."""
        t = signin_throttle
        failures = case((t.c.last_at <= at - WINDOW, 1), else_=t.c.failures + 1)
        first = self._db.insert(t).values(key=key, failures=1, last_at=at, locked_until=lock_after(1, limit, at))
        return first.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={"failures": failures, "last_at": at, "locked_until": _lock_for(failures, limit, at)},
            where=or_(t.c.locked_until.is_(None), t.c.locked_until <= at),
        ).returning(t.c.failures)

    def _why(self, key: str, whom: str, at: datetime) -> Throttled:
        with self._db.begin() as db:
            until = db.execute(select(signin_throttle.c.locked_until).where(signin_throttle.c.key == key)).scalar()
        return Throttled(whom, until if until and until > at else at, at)

    def succeeded(self, name: str, address: str) -> None:
        t = signin_throttle
        left = t.c.failures - 1
        with self._db.begin() as db:
            db.execute(delete(t).where(t.c.key == _account_key(name)))
            db.execute(
                update(t)
                .where(t.c.key == _address_key(address), t.c.failures > 0)
                .values(failures=left, locked_until=case((left < ADDRESS_LIMIT, null()), else_=t.c.locked_until))
            )

    def throttled(self, name: str, address: str, at: datetime | None = None) -> Throttled | None:
        at = at or now()
        checks = self._checks(name, address)
        t = signin_throttle
        with self._db.begin() as db:
            rows = db.execute(select(t.c.key, t.c.locked_until).where(t.c.key.in_([c[0] for c in checks]))).all()
        locks = {key: until for key, until in rows}
        waits = [Throttled(whom, locks[key], at) for key, _, whom in checks if (locks.get(key) or at) > at]
        return max(waits, key=lambda w: w.until, default=None)
