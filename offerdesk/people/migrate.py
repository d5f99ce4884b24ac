"""Where a database of people's records stands against this Offerdesk, and bringing it up to date.

Alembic runs from the migrations shipped in this package (migrations/), with its Config built here: no
alembic.ini at run time. `offerdesk db upgrade` and `offerdesk up` (for the embedded SQLite file) upgrade;
everything else that opens the records checks first and refuses a database older or newer than its code. The
check reads `alembic_version` itself, so a portal, worker or command that only checks never loads Alembic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from offerdesk.people.db import Database, make_engine, reachable, shown, sqlite_path
from offerdesk.people.errors import SchemaMismatch

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

__all__ = ["REVISIONS", "SchemaMismatch", "Standing", "State", "check", "standing", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
REVISIONS = ("0001", "0002", "0003")
"""The revisions in migrations/versions/, oldest first; the last is the one this code reads and writes (a test
holds this to the files)."""
HEAD = REVISIONS[-1]
UPGRADE_LOCK = 0x0FFE_4DE5
"""The PostgreSQL advisory lock two `offerdesk db upgrade` started at once take in turn."""


class State(StrEnum):
    CURRENT = "current"
    BEHIND = "behind"
    AHEAD = "ahead"
    EMPTY = "empty"
    UNVERSIONED = "unversioned"


@dataclass(frozen=True)
class Standing:
    """Where one database stands: its revision (None before any), and whether it holds Offerdesk's tables."""

    url: str
    revision: str | None
    tables: bool

    @property
    def state(self) -> State:
        if self.revision is None:
            return State.UNVERSIONED if self.tables else State.EMPTY
        if self.revision == HEAD:
            return State.CURRENT
        return State.BEHIND if self.revision in REVISIONS else State.AHEAD

    @property
    def behind(self) -> int:
        """How many revisions `offerdesk db upgrade` would apply."""
        if self.revision is None:
            return len(REVISIONS)
        return len(REVISIONS) - 1 - REVISIONS.index(self.revision) if self.revision in REVISIONS else 0

    def sentence(self) -> str:
        where, state = f"the database at {shown(self.url)}", self.state
        if state is State.CURRENT:
            return f"{where} is at revision {self.revision}, up to date"
        if state is State.BEHIND:
            return (
                f"{where} is at revision {self.revision}, older than this Offerdesk's {HEAD} "
                f"({self.behind} to apply): run 'offerdesk db upgrade'"
            )
        if state is State.UNVERSIONED:
            return (
                f"{where} was made before Offerdesk's migrations: run 'offerdesk db upgrade', which keeps every record"
            )
        if state is State.EMPTY:
            return f"{where} has no Offerdesk tables yet: run 'offerdesk db upgrade'"
        return (
            f"{where} is at revision {self.revision}, which this Offerdesk (revision {HEAD}) does not know: "
            "this database is newer than this Offerdesk: upgrade Offerdesk"
        )


def standing_of(connection: Connection, url: str) -> Standing:
    tables = inspect(connection)
    revision = None
    if tables.has_table("alembic_version"):
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return Standing(url, revision, tables.has_table("users"))


def standing(url: str) -> Standing:
    """Where the database at `url` stands; a SQLite file that does not exist is not made."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return Standing(url, None, False)
    engine = make_engine(url, pooled=False)
    try:
        with reachable(url), engine.connect() as connection:
            return standing_of(connection, url)
    finally:
        engine.dispose()


def check(db: Database) -> None:
    """Refuse (SchemaMismatch, naming the command to run) a database that is not at this code's revision; a SQLite
    file that does not exist is not made."""
    path = sqlite_path(db.url)
    if path is not None and not path.exists():
        found = Standing(db.url, None, False)
    else:
        with db.begin() as connection:
            found = standing_of(connection, db.url)
    if found.state is not State.CURRENT:
        raise SchemaMismatch(found.sentence())


def scripts() -> ScriptDirectory:
    """Alembic's view of migrations/."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


def upgrade(url: str, revision: str = HEAD) -> tuple[Standing, Standing]:
    """Apply every migration the database lacks (up to `revision`), in one transaction where the database allows;
    where it stood before and after. A database newer than this code is refused (SchemaMismatch) and left as is."""
    from alembic import command
    from alembic.config import Config

    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url, pooled=False)
    try:
        with reachable(url), engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
            before = standing_of(connection, url)
            if before.state is State.AHEAD:
                raise SchemaMismatch(before.sentence())
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            after = standing_of(connection, url)
    finally:
        engine.dispose()
    return before, after
