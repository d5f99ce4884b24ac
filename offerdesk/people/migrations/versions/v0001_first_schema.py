"""The people's records as Offerdesk kept them before migrations: users, tokens, sessions, sign-in failures, the
audit log and notices.

On SQLite this is the schema offerdesk/people/db.py made, word for word and `IF NOT EXISTS`, so a portal.db from
before migrations upgrades in place with every record kept (and one from before e-mail addresses gains them).
On PostgreSQL the same tables, with `timestamptz` times and names compared without regard to case.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

SQLITE_SCHEMA = """
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

ADDED_USER_COLUMNS = (("email", "TEXT"), ("reminders", "INTEGER NOT NULL DEFAULT 1"))
"""Columns a portal.db from before them gained when it was opened; one that never was opened since gains them here."""

NOCASE = "offerdesk_nocase"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite()
    else:
        _postgresql()


def _sqlite() -> None:
    for statement in SQLITE_SCHEMA.split(";"):
        if statement.strip():
            op.execute(statement)
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("users")}
    for column, kind in ADDED_USER_COLUMNS:
        if column not in columns:
            op.execute(f"ALTER TABLE users ADD COLUMN {column} {kind}")


def _postgresql() -> None:
    # Case-insensitive equality, uniqueness and joins, as SQLite's NOCASE gives them (user names are ASCII).
    op.execute(
        f"CREATE COLLATION IF NOT EXISTS {NOCASE} (provider = icu, locale = 'und-u-ks-level2', deterministic = false)"
    )
    name = sa.Text(collation=NOCASE)
    moment = sa.DateTime(timezone=True)
    op.create_table(
        "users",
        sa.Column("name", name, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("partner", sa.Text),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("email", sa.Text),
        sa.Column("reminders", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "tokens",
        sa.Column("token_id", sa.Text, primary_key=True),
        sa.Column("user", name, sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("secret_sha256", sa.Text, nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("revoked_at", moment),
    )
    op.create_table(
        "sessions",
        sa.Column("id_sha256", sa.Text, primary_key=True),
        sa.Column("user", name, sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf", sa.Text, nullable=False),
        sa.Column("flash", sa.Text),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("expires_at", moment, nullable=False),
    )
    op.create_table(
        "signin_failures",
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("at", moment, nullable=False),
    )
    op.create_index("signin_failures_by_key", "signin_failures", ["key", "at"])
    op.create_table(
        "audit",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", moment, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("round_id", sa.Text),
        sa.Column("partner", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "notices",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("user", name, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("round_id", sa.Text, nullable=False),
        sa.Column("partner", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("lease_until", moment),
        sa.Column("lease_holder", sa.Text),
        sa.Column("lease_attempt", sa.Integer),
        sa.Column("mailed_at", moment),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("mail_error", sa.Text),
        sa.Column("mail_final", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("notices_by_user", "notices", ["user", "created_at"])


def downgrade() -> None:
    for index, table in (("notices_by_user", "notices"), ("signin_failures_by_key", "signin_failures")):
        op.drop_index(index, table_name=table)
    for table in ("notices", "audit", "signin_failures", "sessions", "tokens", "users"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP COLLATION IF EXISTS {NOCASE}")
