"""Notices as people find them: one entry per event and person, beside the users in the portal's database.

The notify activity (activities/notify.py) files entries and marks them mailed through the `Postbox` side; the
portal's notifications page reads a person's inbox. The entry's key is the notice's key and the person's name,
so filing twice is one entry (the key is unique; a second filing is ignored by the database, on any number of
workers), and the claim (a lease, taken by one conditional update) keeps two attempts from mailing it at once.

The outbox holds each notice an offer posted until a postman has sent it: one row a notice, keyed by the notice's
key (posting twice is one row), held by one postman at a time (taken by one conditional update, like an entry).
A row is done when `done_at` is set: sent if it has no `last_error`, given up if it has.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from pydantic import ValidationError
from sqlalchemy import and_, or_, select, update
from sqlalchemy.sql import ColumnElement

from activities.notify import Claim, Holder, Message, Postbox, Posted
from offerdesk.people.db import Database, now
from offerdesk.people.schema import notices, outbox, users
from schemas.notice import Audience, InboxEntry, Notice, NoticeKind, Recipient
from schemas.portal import Role

log = logging.getLogger("offerdesk.people")
_ROLE_OF = {Audience.NEGOTIATORS: Role.NEGOTIATOR, Audience.REVIEWERS: Role.REVIEWER, Audience.STAFF: Role.STAFF}


class Notices(Postbox, Protocol):
    """The worker's postbox, and each person's inbox."""

    def inbox(self, user: str, limit: int = 200) -> list[InboxEntry]:
        """The user's notices, newest first."""
        ...


class DatabaseNotices:
    def __init__(self, db: Database) -> None:
        self._db = db

    def recipients(self, notice: Notice) -> list[Recipient]:
        audience = notice.kind.audience
        query = select(users.c.name, users.c.email, users.c.reminders).where(users.c.role == _ROLE_OF[audience].value)
        if audience is Audience.NEGOTIATORS:
            query = query.where(users.c.partner == notice.partner)
        with self._db.begin() as db:
            rows = db.execute(query.order_by(users.c.name)).all()
        excluded = {x.strip().casefold() for x in notice.exclude}
        return [
            Recipient(name=r.name, email=r.email, reminders=bool(r.reminders))
            for r in rows
            if r.name.casefold() not in excluded
        ]

    def file(self, entry_key: str, user: str, notice: Notice, message: Message) -> None:
        entry = self._db.insert(notices).values(
            key=entry_key,
            user=user,
            kind=notice.kind.value,
            round_id=notice.round_id,
            partner=notice.partner,
            subject=message.subject,
            text=message.text,
            link=message.link,
            created_at=notice.at,
            attempts=0,
            mail_final=False,
        )
        with self._db.begin() as db:
            db.execute(entry.on_conflict_do_nothing(index_elements=[notices.c.key]))

    def claim(self, entry_key: str, until: datetime, holder: Holder) -> Claim:
        n, at = notices.c, now()
        free = or_(
            n.lease_until.is_(None),
            n.lease_until <= at,
            # A later attempt of the same delivery exists only once Temporal gave the earlier one up.
            and_(n.lease_holder == holder.delivery, n.lease_attempt < holder.attempt),
        )
        take = (
            update(notices)
            .where(n.key == entry_key, n.mailed_at.is_(None), n.mail_final.is_(False), free)
            .values(
                lease_until=until, lease_holder=holder.delivery, lease_attempt=holder.attempt, attempts=n.attempts + 1
            )
        )
        with self._db.begin() as db:  # one statement decides, so two attempts never both claim
            if db.execute(take).rowcount:
                return "claimed"
            row = db.execute(select(n.mailed_at, n.mail_final).where(n.key == entry_key)).first()
        if row is None or row.mailed_at is not None or row.mail_final:
            return "done"  # never filed, mailed already, or refused for good
        return "busy"

    def mailed(self, entry_key: str) -> None:
        with self._db.begin() as db:
            db.execute(
                update(notices)
                .where(notices.c.key == entry_key)
                .values(mailed_at=now(), lease_until=None, mail_error=None)
            )

    def not_mailed(self, entry_key: str, reason: str) -> None:
        with self._db.begin() as db:
            db.execute(
                update(notices)
                .where(notices.c.key == entry_key, notices.c.mailed_at.is_(None))
                .values(mail_error=reason, mail_final=True)
            )

    def mail_failed(self, entry_key: str, error: str, final: bool) -> None:
        # A final refusal is done with: the entry stays in the inbox, and its error says why no mail came.
        with self._db.begin() as db:
            db.execute(
                update(notices)
                .where(notices.c.key == entry_key)
                .values(lease_until=None, mail_error=error[:500], mail_final=final)
            )

    def post(self, notice: Notice) -> bool:
        at = now()
        row = self._db.insert(outbox).values(
            key=notice.key, notice=notice.model_dump_json(), created_at=at, attempts=0, next_try_at=at
        )
        # RETURNING says whether a row went in; rowcount does not, on every driver, for ON CONFLICT DO NOTHING.
        added = row.on_conflict_do_nothing(index_elements=[outbox.c.key]).returning(outbox.c.key)
        with self._db.begin() as db:
            return db.execute(added).first() is not None

    def due(self, at: datetime, limit: int) -> list[Posted]:
        o = outbox.c
        query = (
            select(o.key, o.notice, o.created_at, o.attempts)
            .where(o.done_at.is_(None), o.next_try_at <= at, _unheld(at))
            .order_by(o.next_try_at)
            .limit(limit)
        )
        with self._db.begin() as db:
            rows = db.execute(query).all()
        due: list[Posted] = []
        for r in rows:
            try:
                notice = Notice.model_validate_json(r.notice)
            except ValidationError as e:  # posted by a newer Offerdesk (a kind this code lacks): left to a newer worker
                log.warning("notice %s in the outbox cannot be read by this Offerdesk: %s", r.key, e)
                continue
            due.append(Posted(r.key, notice, r.created_at, r.attempts))
        return due

    def take(self, key: str, until: datetime, holder: str) -> int | None:
        o, at = outbox.c, now()
        taking = (
            update(outbox)
            .where(o.key == key, o.done_at.is_(None), o.next_try_at <= at, _unheld(at))
            .values(claimed_by=holder, claimed_until=until, attempts=o.attempts + 1)
        )
        with self._db.begin() as db:  # one statement decides, so two postmen never both take it
            if not db.execute(taking).rowcount:
                return None
            attempt: int = db.execute(select(o.attempts).where(o.key == key)).scalar_one()
        return attempt

    def hold(self, key: str, until: datetime, holder: str) -> bool:
        with self._db.begin() as db:
            return bool(db.execute(update(outbox).where(*_held_by(key, holder)).values(claimed_until=until)).rowcount)

    def sent(self, key: str, holder: str) -> None:
        self._settle(key, holder, done_at=now(), last_error=None)

    def retry_later(self, key: str, holder: str, at: datetime, error: str) -> None:
        self._settle(key, holder, next_try_at=at, last_error=error[:500])

    def give_up(self, key: str, holder: str, error: str) -> None:
        self._settle(key, holder, done_at=now(), last_error=error[:500])

    def _settle(self, key: str, holder: str, **values: object) -> None:
        """Let the row go with `values`, if `holder` still holds it (else another postman has it now)."""
        with self._db.begin() as db:
            db.execute(update(outbox).where(*_held_by(key, holder)).values(claimed_until=None, **values))

    def inbox(self, user: str, limit: int = 200) -> list[InboxEntry]:
        query = (
            select(notices)
            .where(notices.c.user == user)
            .order_by(notices.c.created_at.desc(), notices.c.key)
            .limit(limit)
        )
        with self._db.begin() as db:
            rows = db.execute(query).mappings().all()
        return [
            InboxEntry(
                key=r["key"],
                kind=NoticeKind(r["kind"]),
                round_id=r["round_id"],
                partner=r["partner"],
                subject=r["subject"],
                text=r["text"],
                link=r["link"],
                created_at=r["created_at"],
                mailed_at=r["mailed_at"],
                mail_error=r["mail_error"],
            )
            for r in rows
        ]


def _unheld(at: datetime) -> ColumnElement[bool]:
    return or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= at)


def _held_by(key: str, holder: str) -> tuple[ColumnElement[bool], ...]:
    o = outbox.c
    return o.key == key, o.claimed_by == holder, o.claimed_until.is_not(None), o.done_at.is_(None)
