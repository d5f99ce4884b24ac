"""A PostgreSQL server of one's own, for the tests and the benchmark's portal part: Debian's `postgresql` binaries,
`initdb` into a temporary folder, on a free port, run as the `postgres` system user when run as root (initdb and
postgres refuse root).

`make test` installs the package when it is missing; here, a missing server is `NoPostgres`, said in a sentence
(the benchmark then skips what needs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from offerdesk.devserver import free_port
from offerdesk.people.migrate import upgrade

USER = "offerdesk"
TEMPLATE = "offerdesk_template"


class NoPostgres(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def binaries() -> Path:
    """The folder with initdb and pg_ctl: Debian's newest /usr/lib/postgresql/N/bin, or wherever PATH has them."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    if found is None:
        raise NoPostgres(
            "no PostgreSQL server on this machine (no initdb in /usr/lib/postgresql/*/bin or on PATH): install "
            "Debian's postgresql package (apt-get install postgresql); make test does"
        )
    return Path(found).resolve().parent


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])  # a short PATH may leave sbin out
    runuser = shutil.which("runuser", path=search)
    if runuser is None:
        raise NoPostgres("running as root, and no runuser to start PostgreSQL as the postgres user")
    return [runuser, "-u", "postgres", "--", *command]


class Postgres:
    """One server: `start`, `stop` (and start again on the same port and data), `url` of a database, and fresh
    databases copied from a template at the newest revision."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="offerdesk-pg-"))  # under /tmp: the postgres user reaches it
        self.data = self.folder / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"]
        )
        self._template = False

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(_as_server_user(command), capture_output=True, text=True, cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self, durable: bool = False) -> None:
        """Start the server; `durable` keeps PostgreSQL's own defaults (every commit flushed to disk, as in
        production, and as the embedded SQLite file does), else the tests' faster settings that flush nothing."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log = self.folder / "server.log"
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-o", options, "-w", "start"])

    def stop(self) -> None:
        """A fast shutdown: every connection is cut, as when the database host goes away."""
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(statement)

    def new_database(self, migrated: bool = True) -> str:
        """A new, empty database; `migrated` copies it from a template at the newest revision (much faster than
        migrating each one)."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        if migrated and not self._template:
            self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
            upgrade(self.url(TEMPLATE))  # its engine is disposed: nobody stays connected to the template
            self._template = True
        if migrated:
            self._admin(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(TEMPLATE))
            )
        else:
            self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)
