"""Browser sessions: a random cookie (kept as its SHA-256), the session's CSRF token, and one message to show next."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import delete, exc, select, update

from offerdesk.people.db import Database, now, sha256
from offerdesk.people.principal import Principal
from offerdesk.people.schema import sessions, users
from offerdesk.people.users import no_user
from schemas.portal import Role, UserInfo

SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class NewSession:
    cookie: str
    csrf: str
    principal: Principal


class Sessions(Protocol):
    def start(self, user: UserInfo) -> NewSession: ...

    def principal(self, cookie: str) -> Principal | None:
        """Who the cookie signs in, while the session lasts."""
        ...

    def flash(self, cookie: str, message: str) -> None:
        """Keep a message for the next page this session shows (post, redirect, get)."""
        ...

    def pop_flash(self, cookie: str) -> str | None: ...

    def end(self, cookie: str) -> None: ...


class DatabaseSessions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def start(self, user: UserInfo) -> NewSession:
        cookie, csrf, at = secrets.token_urlsafe(32), secrets.token_urlsafe(32), now()
        try:
            with self._db.begin() as db:
                db.execute(delete(sessions).where(sessions.c.expires_at < at))
                db.execute(
                    sessions.insert().values(
                        id_sha256=sha256(cookie),
                        user=user.name,
                        csrf=csrf,
                        created_at=at,
                        expires_at=at + SESSION_LIFETIME,
                    )
                )
        except exc.IntegrityError:  # removed since the password was checked
            raise no_user(user.name) from None
        return NewSession(cookie, csrf, Principal(user.name, user.role, user.partner, "session", csrf))

    def principal(self, cookie: str) -> Principal | None:
        query = (
            select(users.c.name, users.c.role, users.c.partner, sessions.c.csrf)
            .join_from(sessions, users, users.c.name == sessions.c.user)
            .where(sessions.c.id_sha256 == sha256(cookie), sessions.c.expires_at > now())
        )
        with self._db.begin() as db:
            row = db.execute(query).first()
        return Principal(row.name, Role(row.role), row.partner, "session", row.csrf) if row else None

    def flash(self, cookie: str, message: str) -> None:
        with self._db.begin() as db:
            db.execute(update(sessions).where(sessions.c.id_sha256 == sha256(cookie)).values(flash=message))

    def pop_flash(self, cookie: str) -> str | None:
        key = sha256(cookie)
        with self._db.begin() as db:
            seen = db.execute(select(sessions.c.flash).where(sessions.c.id_sha256 == key)).scalar()
            if seen is None:
                return None
            # Taken only if it is still the message read: two pages shown at once never both show it.
            taken = db.execute(
                update(sessions).where(sessions.c.id_sha256 == key, sessions.c.flash == seen).values(flash=None)
            ).rowcount
        return str(seen) if taken else None

    def end(self, cookie: str) -> None:
        with self._db.begin() as db:
            db.execute(delete(sessions).where(sessions.c.id_sha256 == sha256(cookie)))
