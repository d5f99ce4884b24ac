"""API tokens for programs: `od_<id>_<secret>`, the secret kept as its SHA-256, revoked rather than deleted."""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime
from typing import Protocol

from offerdesk.people.db import Database, now, sha256
from offerdesk.people.principal import Principal
from offerdesk.people.users import AccountError, no_user
from schemas.portal import Role, TokenCreated, TokenInfo
from schemas.refusal import Refusal

TOKEN_PREFIX = "od_"


def token_id_of(presented: str) -> str | None:
    """The id part of something sent as an API token, if it has the shape of one (never the secret)."""
    found = re.fullmatch(rf"{TOKEN_PREFIX}([0-9a-f]{{12}})_.+", presented)
    return found.group(1) if found else None


class Tokens(Protocol):
    def create(self, user: str, label: str, created_by: str) -> TokenCreated:
        """A new token acting as `user`; the answer holds the token, which is kept nowhere."""
        ...

    def principal(self, presented: str) -> Principal | None:
        """Who a live token acts as; None for anything else."""
        ...

    def all(self) -> list[TokenInfo]:
        """Oldest first, revoked ones included."""
        ...

    def revoke(self, token_id: str) -> None: ...


class SqliteTokens:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, user: str, label: str, created_by: str) -> TokenCreated:
        token_id, secret, at = secrets.token_hex(6), secrets.token_urlsafe(32), now()
        with self._db.transaction() as db:
            owner = db.execute("SELECT name FROM users WHERE name = ?", (user,)).fetchone()
            if owner is None:
                raise no_user(user, "; create it first with 'offerdesk user add'")
            db.execute(
                "INSERT INTO tokens (token_id, user, label, secret_sha256, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (token_id, owner["name"], label, sha256(secret), at.isoformat(), created_by),
            )
        return TokenCreated(
            token_id=token_id,
            user=owner["name"],
            label=label,
            created_at=at,
            created_by=created_by,
            revoked=False,
            token=f"{TOKEN_PREFIX}{token_id}_{secret}",
        )

    def principal(self, presented: str) -> Principal | None:
        if not presented.startswith(TOKEN_PREFIX) or "_" not in presented[len(TOKEN_PREFIX) :]:
            return None
        token_id, secret = presented[len(TOKEN_PREFIX) :].split("_", 1)
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT t.secret_sha256, u.name, u.role, u.partner FROM tokens t JOIN users u ON u.name = t.user "
                "WHERE t.token_id = ? AND t.revoked_at IS NULL",
                (token_id,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row["secret_sha256"], sha256(secret)):
            return None
        return Principal(row["name"], Role(row["role"]), row["partner"], "token")

    def all(self) -> list[TokenInfo]:
        with self._db.transaction() as db:
            rows = db.execute("SELECT * FROM tokens ORDER BY created_at").fetchall()
        return [
            TokenInfo(
                token_id=r["token_id"],
                user=r["user"],
                label=r["label"],
                created_at=datetime.fromisoformat(r["created_at"]),
                created_by=r["created_by"],
                revoked=r["revoked_at"] is not None,
            )
            for r in rows
        ]

    def revoke(self, token_id: str) -> None:
        with self._db.transaction() as db:
            changed = db.execute(
                "UPDATE tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                (now().isoformat(), token_id),
            ).rowcount
        if not changed:
            raise AccountError(f"there is no live token {token_id}", Refusal.MISSING)
