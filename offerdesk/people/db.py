"""The one place the people's records meet their database: PostgreSQL (`postgresql://…`, psycopg 3) when Offerdesk
runs on several machines, or the embedded SQLite file (`sqlite:///…`); one SQLAlchemy engine a URL, a transaction
a call, and the database's outages turned into one exception the portal answers with a 503.

The stores (users, sessions, tokens, throttle, audit, notices) write their own tables (schema.py) through
`Database.begin`; the tables themselves are made by the migrations (migrate.py), never here.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, DateTime, Engine, Text, create_engine, event, exc, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.schema import Table
from sqlalchemy.types import TypeDecorator, TypeEngine

from offerdesk.people.errors import DatabaseUnavailable

log = logging.getLogger("offerdesk.people")

DEFAULT_POOL_SIZE = 5
CONNECT_TIMEOUT = 5
"""Seconds to wait for PostgreSQL to answer a new connection: a host that is gone is a 503 soon, not a hang."""


UNAVAILABLE = "the portal's database cannot be reached now; try again in a moment"


def now() -> datetime:
    return datetime.now(UTC)


def sha256(secret: str) -> str:
    """How a token or session secret is kept: 256 random bits need no salt, and the hash gives no way back."""
    return hashlib.sha256(secret.encode()).hexdigest()


def sqlite_url(path: Path) -> str:
    return URL.create("sqlite", database=str(path)).render_as_string()


def engine_url(url: str) -> URL:
    """The URL SQLAlchemy opens: `postgresql://` and `postgres://` through psycopg 3, `sqlite:///path` as it is."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "sqlite":
        return parsed
    raise ValueError(f"the people's database is postgresql://… or sqlite:///…; not {parsed.drivername}://…")


def shown(url: str | URL) -> str:
    """The URL as it may be printed: without its password."""
    return (url if isinstance(url, URL) else make_url(url)).render_as_string(hide_password=True)


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL; None for any other database (or SQLite in memory)."""
    parsed = url if isinstance(url, URL) else make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


class Moment(TypeDecorator[datetime]):
    """An aware time: `timestamptz` on PostgreSQL; on SQLite the ISO-8601 text in UTC the embedded database has
    always kept, which sorts and compares as the times do. Naive times are refused on the way in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(Text() if dialect.name == "sqlite" else DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a time for the database needs its zone: {value.isoformat()}")
        value = value.astimezone(UTC)
        return value.isoformat(timespec="microseconds") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(moment, datetime)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _on_sqlite_connect(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def make_engine(url: str, pool_size: int = DEFAULT_POOL_SIZE, pooled: bool = True) -> Engine:
    """An engine for `url`: connections checked before use (so a database that went away and came back is found
    again without a restart), `pool_size` kept open and as many again under load; `pooled=False` keeps none."""
    target = engine_url(url)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if pooled:
        options |= {"pool_size": pool_size, "max_overflow": pool_size, "pool_timeout": 30}
    else:
        options["poolclass"] = NullPool
    if target.get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": 30}
    else:
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    engine = create_engine(target, **options)
    if target.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)
    return engine


OUTAGES = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)
"""What the database raises when it is away, restarting or out of connections (SQLAlchemy's pool timeout)."""


@contextmanager
def reachable(url: str) -> Iterator[None]:
    """Turn the database being away into `DatabaseUnavailable`; every other error passes as it is."""
    try:
        yield
    except OUTAGES as e:
        log.warning("the people's database at %s failed: %s", shown(url), _first_line(e))
        raise DatabaseUnavailable(UNAVAILABLE) from e
    except exc.DBAPIError as e:
        if not e.connection_invalidated:
            raise
        log.warning("the people's database at %s dropped the connection: %s", shown(url), _first_line(e))
        raise DatabaseUnavailable(UNAVAILABLE) from e


def _first_line(error: exc.SQLAlchemyError) -> str:
    """What the driver said, without SQLAlchemy's statement and link: one line for the log."""
    said = str(getattr(error, "orig", None) or error).strip()
    return said.splitlines()[0] if said else type(error).__name__


_engines: dict[tuple[str, int], Engine] = {}
_engines_lock = threading.Lock()


def shared_engine(url: str, pool_size: int) -> Engine:
    """One engine (and pool) per URL and pool size in a process, however often the records are opened."""
    with _engines_lock:
        engine = _engines.get((url, pool_size))
        if engine is None:
            engine = _engines[(url, pool_size)] = make_engine(url, pool_size)
        return engine


def close(url: str) -> None:
    """Close this process's connections to `url` (its pools are made again if it is opened again)."""
    with _engines_lock:
        engines = [_engines.pop(key) for key in list(_engines) if key[0] == url]
    for engine in engines:
        engine.dispose()


class Database:
    """The people's records' database: a transaction a call, and the insert that settles conflicts in it."""

    def __init__(self, url: str, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = url
        self.engine = shared_engine(url, pool_size)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on error; the database away is DatabaseUnavailable."""
        with reachable(self.url), self.engine.begin() as connection:
            yield connection

    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT with ON CONFLICT (`on_conflict_do_nothing`, `on_conflict_do_update`) in this database's SQL."""
        made: Insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)
        assert isinstance(made, postgresql.Insert | sqlite.Insert)
        return made

    def ping(self) -> None:
        """Ask the database to answer at all; DatabaseUnavailable if it does not."""
        with self.begin() as connection:
            connection.execute(text("SELECT 1"))
