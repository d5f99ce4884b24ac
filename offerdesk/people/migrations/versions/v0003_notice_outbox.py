"""The notices' outbox: a notice an offer posts (the post_notice local activity) waits here, one row a notice,
until a worker's postman (activities/postman.py) has mailed it, retried it for its three days, or given it up.

A table of its own rather than columns on `notices`: an entry there is one person's, an outbox row is the whole
notice (its JSON, from which every person's message is composed), and it is claimed, retried and done once.
Its one index serves the postman's question, "what is due now and not done", and holds only rows not done.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def _moment() -> sa.DateTime:
    return sa.DateTime(timezone=True).with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("notice", sa.Text, nullable=False),
        sa.Column("created_at", _moment(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_try_at", _moment(), nullable=False),
        sa.Column("claimed_by", sa.Text),
        sa.Column("claimed_until", _moment()),
        sa.Column("done_at", _moment()),
        sa.Column("last_error", sa.Text),
    )
    not_done = sa.text("done_at IS NULL")
    op.create_index("outbox_due", "outbox", ["next_try_at"], postgresql_where=not_done, sqlite_where=not_done)


def downgrade() -> None:
    op.drop_index("outbox_due", table_name="outbox")
    op.drop_table("outbox")
