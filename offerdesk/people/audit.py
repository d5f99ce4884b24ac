"""The portal's audit log: who read or decided what, on which offer, when, and how it ended.

Appended, never changed: the code has no path that updates or deletes a record (a test holds it to that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select

from offerdesk.people.db import Database, now
from offerdesk.people.schema import audit
from schemas.portal import AuditRecord


@dataclass(frozen=True)
class Entry:
    """One record to append. `actor` and `role` are a user's, or what is known of a caller who is none: "(unknown)"
    or "token <id>" with role "-"."""

    actor: str
    role: str
    action: str
    outcome: str
    round_id: str | None = None
    partner: str | None = None
    detail: str = ""


class AuditLog(Protocol):
    def record(self, entry: Entry) -> None: ...

    def records(self, limit: int = 500, round_id: str | None = None) -> list[AuditRecord]:
        """The newest records first."""
        ...


class DatabaseAuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, entry: Entry) -> None:
        e = entry
        with self._db.begin() as db:
            db.execute(
                audit.insert().values(
                    at=now(),
                    actor=e.actor,
                    role=e.role,
                    action=e.action,
                    round_id=e.round_id,
                    partner=e.partner,
                    outcome=e.outcome,
                    detail=e.detail,
                )
            )

    def records(self, limit: int = 500, round_id: str | None = None) -> list[AuditRecord]:
        query = select(audit)
        if round_id is not None:
            query = query.where(audit.c.round_id == round_id)
        with self._db.begin() as db:
            rows = db.execute(query.order_by(audit.c.seq.desc()).limit(limit)).mappings().all()
        return [AuditRecord.model_validate(dict(r)) for r in rows]
