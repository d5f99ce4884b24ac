"""What the portal keeps for itself, in one SQLite file: users, API tokens, sessions and the audit log.

Passwords are hashed with argon2. Tokens and session ids are 256-bit random secrets, so a SHA-256 of
each is enough to store: a stolen database gives no way back to a working token or cookie.
Every call opens its own connection, so the CLI (`offerdesk user add`) and a running portal share the file.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from offerdesk.portal.security import ACCOUNT_LIMIT, ADDRESS_LIMIT, WINDOW, Throttled, locked_until
from offers.reference import load_partners
from schemas.offer import PARTNER_PATTERN
from schemas.portal import USER_NAME_PATTERN, AuditRecord, Role, TokenCreated, TokenInfo, UserInfo

SESSION_LIFETIME = timedelta(hours=12)
TOKEN_PREFIX = "od_"
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong name takes as long as a wrong password.

    Made on first use, not at import: a hash costs a quarter of a second, which every CLI command would pay.
    """
    return _hasher.hash("offerdesk-no-such-user")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL,
    partner TEXT,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    email TEXT,
    reminders INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY,
    user TEXT NOT NULL COLLATE NOCASE REFERENCES users(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    id_sha256 TEXT PRIMARY KEY,
    user TEXT NOT NULL COLLATE NOCASE REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    flash TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signin_failures (
    key TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS signin_failures_by_key ON signin_failures (key, at);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    round_id TEXT,
    partner TEXT,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


_ADDED_USER_COLUMNS = (("email", "TEXT"), ("reminders", "INTEGER NOT NULL DEFAULT 1"))


def check_email(address: str) -> str:
    """An address mail can go to, normalised (email-validator, without a DNS lookup); an AccountError otherwise."""
    from email_validator import EmailNotValidError, validate_email  # 40 ms of import that few commands need

    try:
        return str(validate_email(address.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as e:
        raise AccountError(f"'{address.strip()}' is not a usable e-mail address: {e}") from None


class AccountError(ValueError):
    """A user or token request that cannot be carried out, said in a sentence.

    kind: "Invalid" (fix the input), "Exists" (the name is taken) or "Missing" (no such user or token).
    """

    def __init__(self, message: str, kind: str = "Invalid") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the portal knows them."""

    name: str
    role: Role
    partner: str | None
    via: str  # "session" or "token"
    csrf: str = ""
    """The session's CSRF token (empty for API tokens, which are not sent by browsers)."""


@dataclass(frozen=True)
class NewSession:
    cookie: str
    csrf: str
    principal: Principal


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class Accounts:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)
            columns = {r["name"] for r in db.execute("PRAGMA table_info(users)")}
            for column, kind in _ADDED_USER_COLUMNS:  # a database from before these columns
                if column not in columns:
                    db.execute(f"ALTER TABLE users ADD COLUMN {column} {kind}")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA journal_mode = WAL")
            with db:  # one transaction: committed on success, rolled back on error
                yield db
        finally:
            db.close()

    # ---- users -------------------------------------------------------------------------------

    def add_user(
        self, name: str, role: Role, password: str, partner: str | None = None, email: str | None = None
    ) -> UserInfo:
        if not re.match(USER_NAME_PATTERN, name):
            raise AccountError(f"'{name}' is not a usable user name: letters, digits and . _ @ - only, up to 64")
        if role is Role.NEGOTIATOR and not partner:
            raise AccountError("a negotiator speaks for one partner: give --partner, such as JP")
        if role is not Role.NEGOTIATOR and partner:
            raise AccountError(f"only negotiators are bound to a partner; a {role.value} sees every partner")
        if partner and not re.match(PARTNER_PATTERN, partner):
            raise AccountError(f"'{partner}' is not a partner code: two capital letters, such as JP")
        if partner and partner not in load_partners():
            raise AccountError(f"'{partner}' is not a partner Offerdesk knows; the codes are in data/partners.csv")
        if len(password) < 8:
            raise AccountError("the password needs at least 8 characters")
        email = check_email(email) if email else None
        created = _now()
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO users (name, role, partner, password_hash, created_at, email) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (name, role.value, partner, _hasher.hash(password), created.isoformat(), email),
                )
        except sqlite3.IntegrityError:
            raise AccountError(f"user {name} exists already; choose another name", "Exists") from None
        return UserInfo(name=name, role=role, partner=partner, created_at=created, email=email)

    def set_email(self, name: str, email: str | None) -> UserInfo:
        """Where the user's notifications are mailed; None (or empty) stops the mail, the portal inbox stays."""
        address = check_email(email) if email and email.strip() else None
        with self._db() as db:
            if not db.execute("UPDATE users SET email = ? WHERE name = ?", (address, name)).rowcount:
                raise AccountError(f"there is no user {name}", "Missing")
        user = self.user(name)
        assert user is not None
        return user

    def set_reminders(self, name: str, on: bool) -> UserInfo:
        """Reminders on or off; notices of decisions on the user's own offers are sent either way."""
        with self._db() as db:
            if not db.execute("UPDATE users SET reminders = ? WHERE name = ?", (int(on), name)).rowcount:
                raise AccountError(f"there is no user {name}", "Missing")
        user = self.user(name)
        assert user is not None
        return user

    def set_password(self, name: str, password: str) -> int:
        """Set a new password: the user's sessions end and their API tokens are revoked; how many tokens were."""
        if len(password) < 8:
            raise AccountError("the password needs at least 8 characters")
        with self._db() as db:
            changed = db.execute(
                "UPDATE users SET password_hash = ? WHERE name = ?", (_hasher.hash(password), name)
            ).rowcount
            if not changed:
                raise AccountError(f"there is no user {name}", "Missing")
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))
            revoked = db.execute(
                "UPDATE tokens SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL", (_now().isoformat(), name)
            ).rowcount
        return int(revoked)

    def remove_user(self, name: str) -> int:
        """Remove the user with their sessions and API tokens; how many live tokens went with them."""
        with self._db() as db:
            live = db.execute("SELECT COUNT(*) FROM tokens WHERE user = ? AND revoked_at IS NULL", (name,)).fetchone()[
                0
            ]
            db.execute("DELETE FROM tokens WHERE user = ?", (name,))  # also without foreign keys on
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))
            if not db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount:
                raise AccountError(f"there is no user {name}", "Missing")
        return int(live)

    def users(self) -> list[UserInfo]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM users ORDER BY role, name").fetchall()
        return [_user(r) for r in rows]

    def user(self, name: str) -> UserInfo | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        return _user(row) if row else None

    def check_password(self, name: str, password: str) -> UserInfo | None:
        """The user if the password is theirs; None otherwise, taking as long either way."""
        with self._db() as db:
            row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        try:
            _hasher.verify(row["password_hash"] if row else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _hasher.check_needs_rehash(row["password_hash"]):
            with self._db() as db:
                db.execute("UPDATE users SET password_hash = ? WHERE name = ?", (_hasher.hash(password), row["name"]))
        return _user(row)

    # ---- sign-in throttling ------------------------------------------------------------------

    def signin_throttle(self, name: str, address: str, now: datetime | None = None) -> Throttled | None:
        """Why sign-in must wait now (too many recent failures for this account, or from this address), if it must."""
        now = now or _now()
        since = (now - WINDOW).isoformat()
        checks = (
            (_account_key(name), ACCOUNT_LIMIT, f"for {name}"),
            (_address_key(address), ADDRESS_LIMIT, f"from {address}"),
        )
        worst: Throttled | None = None
        with self._db() as db:
            for key, limit, whom in checks:
                rows = db.execute("SELECT at FROM signin_failures WHERE key = ? AND at > ?", (key, since)).fetchall()
                until = locked_until([datetime.fromisoformat(r["at"]) for r in rows], limit, now)
                if until is not None and (worst is None or until > worst.until):
                    worst = Throttled(whom, until, now)
        return worst

    def signin_failed(self, name: str, address: str, now: datetime | None = None) -> None:
        now = now or _now()
        with self._db() as db:
            db.execute("DELETE FROM signin_failures WHERE at < ?", ((now - WINDOW).isoformat(),))
            db.executemany(
                "INSERT INTO signin_failures (key, at) VALUES (?, ?)",
                [(_account_key(name), now.isoformat()), (_address_key(address), now.isoformat())],
            )

    def signin_succeeded(self, name: str) -> None:
        """A right password clears the account's failures (not the address's: one good account proves nothing)."""
        with self._db() as db:
            db.execute("DELETE FROM signin_failures WHERE key = ?", (_account_key(name),))

    # ---- sessions ----------------------------------------------------------------------------

    def start_session(self, user: UserInfo) -> NewSession:
        cookie, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), _now()
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(),))
            db.execute(
                "INSERT INTO sessions (id_sha256, user, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (_sha256(cookie), user.name, csrf, now.isoformat(), (now + SESSION_LIFETIME).isoformat()),
            )
        return NewSession(cookie, csrf, Principal(user.name, user.role, user.partner, "session", csrf))

    def session(self, cookie: str) -> Principal | None:
        with self._db() as db:
            row = db.execute(
                "SELECT u.name, u.role, u.partner, s.csrf FROM sessions s JOIN users u ON u.name = s.user "
                "WHERE s.id_sha256 = ? AND s.expires_at > ?",
                (_sha256(cookie), _now().isoformat()),
            ).fetchone()
        return Principal(row["name"], Role(row["role"]), row["partner"], "session", row["csrf"]) if row else None

    def flash(self, cookie: str, message: str) -> None:
        """Keep a message for the next page this session shows (post, redirect, get)."""
        with self._db() as db:
            db.execute("UPDATE sessions SET flash = ? WHERE id_sha256 = ?", (message, _sha256(cookie)))

    def pop_flash(self, cookie: str) -> str | None:
        with self._db() as db:
            row = db.execute("SELECT flash FROM sessions WHERE id_sha256 = ?", (_sha256(cookie),)).fetchone()
            if row is None or row["flash"] is None:
                return None
            db.execute("UPDATE sessions SET flash = NULL WHERE id_sha256 = ?", (_sha256(cookie),))
        return str(row["flash"])

    def end_session(self, cookie: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE id_sha256 = ?", (_sha256(cookie),))

    # ---- API tokens --------------------------------------------------------------------------

    def create_token(self, user: str, label: str, created_by: str) -> TokenCreated:
        owner = self.user(user)
        if owner is None:
            raise AccountError(f"there is no user {user}; create it first with 'offerdesk user add'", "Missing")
        token_id, secret, now = secrets.token_hex(6), secrets.token_urlsafe(32), _now()
        with self._db() as db:
            db.execute(
                "INSERT INTO tokens (token_id, user, label, secret_sha256, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (token_id, owner.name, label, _sha256(secret), now.isoformat(), created_by),
            )
        return TokenCreated(
            token_id=token_id,
            user=owner.name,
            label=label,
            created_at=now,
            created_by=created_by,
            revoked=False,
            token=f"{TOKEN_PREFIX}{token_id}_{secret}",
        )

    def token(self, presented: str) -> Principal | None:
        if not presented.startswith(TOKEN_PREFIX) or "_" not in presented[len(TOKEN_PREFIX) :]:
            return None
        token_id, secret = presented[len(TOKEN_PREFIX) :].split("_", 1)
        with self._db() as db:
            row = db.execute(
                "SELECT t.secret_sha256, u.name, u.role, u.partner FROM tokens t JOIN users u ON u.name = t.user "
                "WHERE t.token_id = ? AND t.revoked_at IS NULL",
                (token_id,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row["secret_sha256"], _sha256(secret)):
            return None
        return Principal(row["name"], Role(row["role"]), row["partner"], "token")

    def tokens(self) -> list[TokenInfo]:
        with self._db() as db:
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

    def revoke_token(self, token_id: str) -> None:
        with self._db() as db:
            changed = db.execute(
                "UPDATE tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                (_now().isoformat(), token_id),
            ).rowcount
        if not changed:
            raise AccountError(f"there is no live token {token_id}", "Missing")

    # ---- audit -------------------------------------------------------------------------------

    def record(
        self,
        who: Principal,
        action: str,
        outcome: str,
        round_id: str | None = None,
        partner: str | None = None,
        detail: str = "",
    ) -> None:
        self.record_as(who.name, who.role.value, action, outcome, round_id, partner, detail)

    def record_as(
        self,
        actor: str,
        role: str,
        action: str,
        outcome: str,
        round_id: str | None = None,
        partner: str | None = None,
        detail: str = "",
    ) -> None:
        """A record for a caller who is not (or not yet) a Principal: a failed sign-in, a refused token."""
        with self._db() as db:
            db.execute(
                "INSERT INTO audit (at, actor, role, action, round_id, partner, outcome, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (_now().isoformat(), actor, role, action, round_id, partner, outcome, detail),
            )

    def audit(self, limit: int = 500, round_id: str | None = None) -> list[AuditRecord]:
        """The newest records first."""
        query, args = "SELECT * FROM audit", []
        if round_id is not None:
            query += " WHERE round_id = ?"
            args.append(round_id)
        with self._db() as db:
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


def _account_key(name: str) -> str:
    return f"account:{name.strip().lower()}"


def _address_key(address: str) -> str:
    return f"address:{address}"


def token_id_of(presented: str) -> str | None:
    """The id part of something sent as an API token, if it has the shape of one (never the secret)."""
    found = re.fullmatch(rf"{TOKEN_PREFIX}([0-9a-f]{{12}})_.+", presented)
    return found.group(1) if found else None


def _user(row: sqlite3.Row) -> UserInfo:
    return UserInfo(
        name=row["name"],
        role=Role(row["role"]),
        partner=row["partner"],
        created_at=row["created_at"],
        email=row["email"],
        reminders=bool(row["reminders"]),
    )
