"""The people's records: users, sessions, API tokens, the sign-in throttle, the audit log and notices.

One module per concept, each a small Protocol (what the portal's `Desk`, the CLI and the worker use) and its one
implementation over SQLAlchemy Core, for PostgreSQL and the embedded SQLite file alike. `open_people` is the one
place they are opened, and it refuses a database whose schema is not this code's (migrate.py).

Importing this package loads no database layer: commands that never touch the records do not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from offerdesk.people.errors import AccountError, DatabaseUnavailable, SchemaMismatch

if TYPE_CHECKING:
    from offerdesk.people.audit import AuditLog
    from offerdesk.people.db import Database
    from offerdesk.people.notices import Notices
    from offerdesk.people.sessions import Sessions
    from offerdesk.people.throttle import SigninThrottle
    from offerdesk.people.tokens import Tokens
    from offerdesk.people.users import Users

__all__ = ["AccountError", "DatabaseUnavailable", "People", "SchemaMismatch", "open_people"]


@dataclass(frozen=True)
class People:
    users: Users
    sessions: Sessions
    tokens: Tokens
    throttle: SigninThrottle
    audit: AuditLog
    open_notices: Callable[[], Notices]
    database: Database

    @cached_property
    def notices(self) -> Notices:
        """Opened on first use: notices bring the mail module (jinja2, smtplib), which the CLI's user and token
        commands never need."""
        return self.open_notices()

    def ping(self) -> None:
        """DatabaseUnavailable unless the database answers now (for readiness checks)."""
        self.database.ping()


def open_people(url: str, pool_size: int | None = None) -> People:
    """The records in the database at `url` (`postgresql://…` or `sqlite:///…`), after checking that its schema is
    this code's: SchemaMismatch names the command to run; DatabaseUnavailable if it cannot be reached. Opened
    again in the same process, the same URL and pool size share one pool."""
    from offerdesk.people.audit import DatabaseAuditLog
    from offerdesk.people.db import Database
    from offerdesk.people.migrate import check
    from offerdesk.people.sessions import DatabaseSessions
    from offerdesk.people.throttle import DatabaseThrottle
    from offerdesk.people.tokens import DatabaseTokens
    from offerdesk.people.users import DatabaseUsers

    db = Database(url) if pool_size is None else Database(url, pool_size)
    check(db)

    def notices() -> Notices:
        from offerdesk.people.notices import DatabaseNotices

        return DatabaseNotices(db)

    return People(
        users=DatabaseUsers(db),
        sessions=DatabaseSessions(db),
        tokens=DatabaseTokens(db),
        throttle=DatabaseThrottle(db),
        audit=DatabaseAuditLog(db),
        open_notices=notices,
        database=db,
    )
