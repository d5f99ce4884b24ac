"""Sign-in failures as one counted row per account and per address, so each attempt is one atomic upsert that
every portal sees (offerdesk/people/throttle.py), instead of a row per failure read back and counted.

The failures recorded so far become counts; any wait they imposed starts again with the next failure.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def _moment() -> sa.DateTime:
    return sa.DateTime(timezone=True).with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "signin_throttle",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_at", _moment(), nullable=False),
        sa.Column("locked_until", _moment()),
    )
    op.create_index("signin_throttle_by_last_at", "signin_throttle", ["last_at"])
    op.execute(
        "INSERT INTO signin_throttle (key, failures, last_at) "
        "SELECT key, COUNT(*), MAX(at) FROM signin_failures GROUP BY key"
    )
    op.drop_index("signin_failures_by_key", table_name="signin_failures")
    op.drop_table("signin_failures")


def downgrade() -> None:
    op.create_table(
        "signin_failures",
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("at", _moment(), nullable=False),
    )
    op.create_index("signin_failures_by_key", "signin_failures", ["key", "at"])
    op.drop_index("signin_throttle_by_last_at", table_name="signin_throttle")
    op.drop_table("signin_throttle")
