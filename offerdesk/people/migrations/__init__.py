"""Alembic migrations of the people's records, run by offerdesk/people/migrate.py (no alembic.ini)."""
