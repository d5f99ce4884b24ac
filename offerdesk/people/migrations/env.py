"""Alembic's environment: migrate.py hands over an open connection (in its transaction) in the Config's attributes.

To add a revision, copy the newest file in versions/, give it the next number as `revision` and the newest's as
`down_revision`, append the number to REVISIONS in migrate.py, and change schema.py to match; tests/test_database.py
holds the three together.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

connection = context.config.attributes["connection"]
assert isinstance(connection, Connection)
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
