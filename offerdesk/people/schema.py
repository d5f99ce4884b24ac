"""The people's tables as the code reads and writes them (SQLAlchemy Core). The migrations (migrations/versions/)
make them; this is what the newest revision leaves, and a test holds the two together.

Names compare without regard to case in both databases: SQLite's `COLLATE NOCASE`, and on PostgreSQL the
`offerdesk_nocase` collation the first revision makes. Times are `Moment`: `timestamptz` on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Identity, Index, Integer, MetaData, Table, Text

from offerdesk.people.db import Moment

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("name", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("partner", Text),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("email", Text),
    Column("reminders", Boolean, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_id", Text, primary_key=True),
    Column("user", Text, ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column("label", Text, nullable=False),
    Column("secret_sha256", Text, nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("revoked_at", Moment),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_sha256", Text, primary_key=True),
    Column("user", Text, ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column("csrf", Text, nullable=False),
    Column("flash", Text),
    Column("created_at", Moment, nullable=False),
    Column("expires_at", Moment, nullable=False),
)

signin_throttle = Table(
    "signin_throttle",
    metadata,
    Column("key", Text, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_at", Moment, nullable=False),
    Column("locked_until", Moment),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True),
    Column("at", Moment, nullable=False),
    Column("actor", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("round_id", Text),
    Column("partner", Text),
    Column("outcome", Text, nullable=False),
    Column("detail", Text, nullable=False),
)

notices = Table(
    "notices",
    metadata,
    Column("key", Text, primary_key=True),
    Column("user", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("round_id", Text, nullable=False),
    Column("partner", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("lease_until", Moment),
    Column("lease_holder", Text),
    Column("lease_attempt", Integer),
    Column("mailed_at", Moment),
    Column("attempts", Integer, nullable=False),
    Column("mail_error", Text),
    Column("mail_final", Boolean, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("key", Text, primary_key=True),
    Column("notice", Text, nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_try_at", Moment, nullable=False),
    Column("claimed_by", Text),
    Column("claimed_until", Moment),
    Column("done_at", Moment),
    Column("last_error", Text),
)
not_done = outbox.c.done_at.is_(None)
Index("outbox_due", outbox.c.next_try_at, postgresql_where=not_done, sqlite_where=not_done)
