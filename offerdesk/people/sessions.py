"""Browser sessions: a random cookie (kept as its SHA-256), the session's CSRF token, and one message to show next."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from offerdesk.people.db import Database, now, sha256
from offerdesk.people.principal import Principal
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


class SqliteSessions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def start(self, user: UserInfo) -> NewSession:
        cookie, csrf, at = secrets.token_urlsafe(32), secrets.token_urlsafe(32), now()
        with self._db.transaction() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (at.isoformat(),))
            db.execute(
                "INSERT INTO sessions (id_sha256, user, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (sha256(cookie), user.name, csrf, at.isoformat(), (at + SESSION_LIFETIME).isoformat()),
            )
        return NewSession(cookie, csrf, Principal(user.name, user.role, user.partner, "session", csrf))

    def principal(self, cookie: str) -> Principal | None:
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT u.name, u.role, u.partner, s.csrf FROM sessions s JOIN users u ON u.name = s.user "
                "WHERE s.id_sha256 = ? AND s.expires_at > ?",
                (sha256(cookie), now().isoformat()),
            ).fetchone()
        return Principal(row["name"], Role(row["role"]), row["partner"], "session", row["csrf"]) if row else None

    def flash(self, cookie: str, message: str) -> None:
        with self._db.transaction() as db:
            db.execute("UPDATE sessions SET flash = ? WHERE id_sha256 = ?", (message, sha256(cookie)))

    def pop_flash(self, cookie: str) -> str | None:
        with self._db.transaction() as db:
            row = db.execute("SELECT flash FROM sessions WHERE id_sha256 = ?", (sha256(cookie),)).fetchone()
            if row is None or row["flash"] is None:
                return None
            db.execute("UPDATE sessions SET flash = NULL WHERE id_sha256 = ?", (sha256(cookie),))
        return str(row["flash"])

    def end(self, cookie: str) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM sessions WHERE id_sha256 = ?", (sha256(cookie),))
