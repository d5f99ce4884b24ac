"""Notices as people find them: one entry per event and person, beside the users in the portal's database.

The notify activity (activities/notify.py) files entries and marks them mailed through the `Postbox` side; the
portal's notifications page reads a person's inbox. The entry's key is the notice's key and the person's name,
so filing twice is one entry, and the claim (a lease) keeps two attempts from mailing the same entry at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from activities.notify import Claim, Holder, Message, Postbox
from offerdesk.people.db import Database, now
from schemas.notice import Audience, InboxEntry, Notice, NoticeKind, Recipient
from schemas.portal import Role

_ROLE_OF = {Audience.NEGOTIATORS: Role.NEGOTIATOR, Audience.REVIEWERS: Role.REVIEWER, Audience.STAFF: Role.STAFF}


class Notices(Postbox, Protocol):
    """The worker's postbox, and each person's inbox."""

    def inbox(self, user: str, limit: int = 200) -> list[InboxEntry]:
        """The user's notices, newest first."""
        ...


class SqliteNotices:
    def __init__(self, db: Database) -> None:
        self._db = db

    def recipients(self, notice: Notice) -> list[Recipient]:
        audience = notice.kind.audience
        query = "SELECT name, email, reminders FROM users WHERE role = ?"
        args: list[str] = [_ROLE_OF[audience].value]
        if audience is Audience.NEGOTIATORS:
            query += " AND partner = ?"
            args.append(notice.partner)
        with self._db.transaction() as db:
            rows = db.execute(query + " ORDER BY name", args).fetchall()
        excluded = {x.strip().casefold() for x in notice.exclude}
        return [
            Recipient(name=r["name"], email=r["email"], reminders=bool(r["reminders"]))
            for r in rows
            if r["name"].casefold() not in excluded
        ]

    def file(self, entry_key: str, user: str, notice: Notice, message: Message) -> None:
        with self._db.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO notices (key, user, kind, round_id, partner, subject, text, link, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry_key,
                    user,
                    notice.kind.value,
                    notice.round_id,
                    notice.partner,
                    message.subject,
                    message.text,
                    message.link,
                    notice.at.isoformat(),
                ),
            )

    def claim(self, entry_key: str, until: datetime, holder: Holder) -> Claim:
        at = now().isoformat()
        with self._db.transaction(immediate=True) as db:  # one writer decides, so two attempts never both claim
            row = db.execute(
                "SELECT mailed_at, mail_final, lease_until, lease_holder, lease_attempt FROM notices WHERE key = ?",
                (entry_key,),
            ).fetchone()
            if row is None or row["mailed_at"] is not None or row["mail_final"]:
                return "done"  # never filed, mailed already, or refused for good
            held = row["lease_until"] is not None and row["lease_until"] > at
            # A later attempt of the same delivery exists only once Temporal gave the earlier one up.
            if held and not (row["lease_holder"] == holder.delivery and row["lease_attempt"] < holder.attempt):
                return "busy"
            db.execute(
                "UPDATE notices SET lease_until = ?, lease_holder = ?, lease_attempt = ?, attempts = attempts + 1 "
                "WHERE key = ?",
                (until.isoformat(), holder.delivery, holder.attempt, entry_key),
            )
        return "claimed"

    def mailed(self, entry_key: str) -> None:
        with self._db.transaction() as db:
            db.execute(
                "UPDATE notices SET mailed_at = ?, lease_until = NULL, mail_error = NULL WHERE key = ?",
                (now().isoformat(), entry_key),
            )

    def not_mailed(self, entry_key: str, reason: str) -> None:
        with self._db.transaction() as db:
            db.execute(
                "UPDATE notices SET mail_error = ?, mail_final = 1 WHERE key = ? AND mailed_at IS NULL",
                (reason, entry_key),
            )

    def mail_failed(self, entry_key: str, error: str, final: bool) -> None:
        # A final refusal is done with: the entry stays in the inbox, and its error says why no mail came.
        with self._db.transaction() as db:
            db.execute(
                "UPDATE notices SET lease_until = NULL, mail_error = ?, mail_final = ? WHERE key = ?",
                (error[:500], int(final), entry_key),
            )

    def inbox(self, user: str, limit: int = 200) -> list[InboxEntry]:
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT * FROM notices WHERE user = ? ORDER BY created_at DESC, key LIMIT ?", (user, limit)
            ).fetchall()
        return [
            InboxEntry(
                key=r["key"],
                kind=NoticeKind(r["kind"]),
                round_id=r["round_id"],
                partner=r["partner"],
                subject=r["subject"],
                text=r["text"],
                link=r["link"],
                created_at=datetime.fromisoformat(r["created_at"]),
                mailed_at=datetime.fromisoformat(r["mailed_at"]) if r["mailed_at"] else None,
                mail_error=r["mail_error"],
            )
            for r in rows
        ]
