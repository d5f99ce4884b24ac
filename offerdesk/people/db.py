"""The one place the people's records are opened: one SQLite file in WAL mode, its schema, and a transaction a call.

Every call opens its own connection, so the CLI (`offerdesk user add`), the worker filing notices and a running
portal share the file. The stores (users, sessions, tokens, throttle, audit, notices) each write their own
tables through `Database.transaction`; the schema is kept here whole, as a migration would keep it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS notices (
    key TEXT PRIMARY KEY,
    user TEXT NOT NULL COLLATE NOCASE,
    kind TEXT NOT NULL,
    round_id TEXT NOT NULL,
    partner TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT NOT NULL,
    link TEXT NOT NULL,
    created_at TEXT NOT NULL,
    lease_until TEXT,
    lease_holder TEXT,
    lease_attempt INTEGER,
    mailed_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    mail_error TEXT,
    mail_final INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS notices_by_user ON notices (user, created_at);
"""

_ADDED_USER_COLUMNS = (("email", "TEXT"), ("reminders", "INTEGER NOT NULL DEFAULT 1"))
"""Columns a database from before them gains when it is opened."""


def now() -> datetime:
    return datetime.now(UTC)


def sha256(secret: str) -> str:
    """How a token or session secret is kept: 256 random bits need no salt, and the hash gives no way back."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Database:
    """The portal's SQLite file: made with its schema when opened, one connection and transaction a call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.transaction() as db:
            db.executescript(SCHEMA)
            columns = {r["name"] for r in db.execute("PRAGMA table_info(users)")}
            for column, kind in _ADDED_USER_COLUMNS:
                if column not in columns:
                    db.execute(f"ALTER TABLE users ADD COLUMN {column} {kind}")

    @contextmanager
    def transaction(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction: committed on success, rolled back on error. `immediate` takes the write lock at once,
        so one writer decides where two would read, then both write."""
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA journal_mode = WAL")
            with db:
                if immediate:
                    db.execute("BEGIN IMMEDIATE")
                yield db
        finally:
            db.close()
