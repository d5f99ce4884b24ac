"""API tokens for programs: `od_<id>_<secret>`, the secret kept as its SHA-256, revoked rather than deleted."""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Protocol

from sqlalchemy import exc, literal, select, update

from offerdesk.people.db import Database, Moment, now, sha256
from offerdesk.people.principal import Principal
from offerdesk.people.schema import tokens, users
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


class DatabaseTokens:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, user: str, label: str, created_by: str) -> TokenCreated:
        token_id, secret, at = secrets.token_hex(6), secrets.token_urlsafe(32), now()
        # One statement: the token is made for the user as they are now, or not at all (a removal in between).
        owner = select(
            literal(token_id),
            users.c.name,
            literal(label),
            literal(sha256(secret)),
            literal(at, Moment()),
            literal(created_by),
        ).where(users.c.name == user)
        columns = ["token_id", "user", "label", "secret_sha256", "created_at", "created_by"]
        try:
            with self._db.begin() as db:
                name = db.execute(tokens.insert().from_select(columns, owner).returning(tokens.c.user)).scalar()
        except exc.IntegrityError:  # removed after the statement saw them: the foreign key refuses the token
            name = None
        if name is None:
            raise no_user(user, "; create it first with 'offerdesk user add'")
        return TokenCreated(
            token_id=token_id,
            user=name,
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
        query = (
            select(tokens.c.secret_sha256, users.c.name, users.c.role, users.c.partner)
            .join_from(tokens, users, users.c.name == tokens.c.user)
            .where(tokens.c.token_id == token_id, tokens.c.revoked_at.is_(None))
        )
        with self._db.begin() as db:
            row = db.execute(query).first()
        if row is None or not hmac.compare_digest(row.secret_sha256, sha256(secret)):
            return None
        return Principal(row.name, Role(row.role), row.partner, "token")

    def all(self) -> list[TokenInfo]:
        with self._db.begin() as db:
            rows = db.execute(select(tokens).order_by(tokens.c.created_at, tokens.c.token_id)).mappings().all()
        return [
            TokenInfo(
                token_id=r["token_id"],
                user=r["user"],
                label=r["label"],
                created_at=r["created_at"],
                created_by=r["created_by"],
                revoked=r["revoked_at"] is not None,
            )
            for r in rows
        ]

    def revoke(self, token_id: str) -> None:
        # One statement: of two revocations at once, one revokes and the other hears there is no live token.
        with self._db.begin() as db:
            changed = db.execute(
                update(tokens)
                .where(tokens.c.token_id == token_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now())
            ).rowcount
        if not changed:
            raise AccountError(f"there is no live token {token_id}", Refusal.MISSING)
