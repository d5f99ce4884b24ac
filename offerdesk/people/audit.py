"""The portal's audit log: who read or decided what, on which offer, when, and how it ended. Appended, never changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from offerdesk.people.db import Database, now
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


class SqliteAuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, entry: Entry) -> None:
        e = entry
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO audit (at, actor, role, action, round_id, partner, outcome, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (now().isoformat(), e.actor, e.role, e.action, e.round_id, e.partner, e.outcome, e.detail),
            )

    def records(self, limit: int = 500, round_id: str | None = None) -> list[AuditRecord]:
        query, args = "SELECT * FROM audit", []
        if round_id is not None:
            query += " WHERE round_id = ?"
            args.append(round_id)
        with self._db.transaction() as db:
            rows = db.execute(query + " ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
        return [
            AuditRecord(
                seq=r["seq"],
                at=datetime.fromisoformat(r["at"]),
                actor=r["actor"],
                role=r["role"],
                action=r["action"],
                round_id=r["round_id"],
                partner=r["partner"],
                outcome=r["outcome"],
                detail=r["detail"],
            )
            for r in rows
        ]
