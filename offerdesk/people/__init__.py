"""The people's records: users, sessions, API tokens, the sign-in throttle, the audit log and notices.

One module per concept, each a small Protocol (what the portal's `Desk`, the CLI and the worker use) and its
SQLite implementation over one `Database`. `open_people` is the one place that chooses the implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from offerdesk.people.audit import AuditLog, SqliteAuditLog
from offerdesk.people.db import Database
from offerdesk.people.sessions import Sessions, SqliteSessions
from offerdesk.people.throttle import SigninThrottle, SqliteThrottle
from offerdesk.people.tokens import SqliteTokens, Tokens
from offerdesk.people.users import SqliteUsers, Users

if TYPE_CHECKING:
    from offerdesk.people.notices import Notices


@dataclass(frozen=True)
class People:
    users: Users
    sessions: Sessions
    tokens: Tokens
    throttle: SigninThrottle
    audit: AuditLog
    open_notices: Callable[[], Notices]

    @cached_property
    def notices(self) -> Notices:
        """Opened on first use: notices bring the mail module (jinja2, smtplib), which the CLI's user and token
        commands never need."""
        return self.open_notices()


def open_people(path: Path) -> People:
    """The records in the SQLite file at `path` (made, with its schema, if it does not exist)."""
    db = Database(path)

    def notices() -> Notices:
        from offerdesk.people.notices import SqliteNotices

        return SqliteNotices(db)

    return People(
        users=SqliteUsers(db),
        sessions=SqliteSessions(db),
        tokens=SqliteTokens(db),
        throttle=SqliteThrottle(db),
        audit=SqliteAuditLog(db),
        open_notices=notices,
    )
