"""Everything Offerdesk writes under OFFERDESK_HOME is owner-only: 0700 folders, 0600 files, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from offerdesk.converter import ensure_keyring
from offerdesk.devserver import DevServer, free_port
from offerdesk.private import make_private

OFFERDESK = str(Path(sys.executable).parent / "offerdesk")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The umask most machines have (022): without care, files would be world-readable."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def modes(home: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(home.stat().st_mode)}
    for path in home.rglob("*"):
        found[str(path.relative_to(home))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def loose(home: Path) -> dict[str, str]:
    return {name: oct(mode) for name, mode in modes(home).items() if mode & 0o077}


def test_the_cli_writes_the_portal_database_owner_only(tmp_path: Path, open_umask: None) -> None:
    home = tmp_path / "home"
    environ = {**os.environ, "OFFERDESK_HOME": str(home)}
    environ.pop("OFFERDESK_DATABASE_URL", None)
    for command in (["db", "upgrade"], ["user", "add", "ada", "--role", "reviewer", "--password", "long enough"]):
        result = subprocess.run([OFFERDESK, *command], env=environ, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        assert (home / "portal.db").exists()
        assert loose(home) == {}


def test_the_dev_server_database_and_log_are_owner_only(tmp_path: Path, open_umask: None) -> None:
    home = tmp_path / "home"
    server = DevServer(home, free_port(), free_port())
    server.start()
    try:
        assert (home / "temporal.db").exists() and (home / "temporal.log").exists()
        assert loose(home) == {}
    finally:
        server.stop()
    assert loose(home) == {}


def test_what_an_older_version_left_readable_is_tightened(tmp_path: Path, open_umask: None) -> None:
    home = tmp_path / "home"
    (home / "letters" / "ab").mkdir(parents=True)
    (home / "letters" / "ab" / "x.pdf").write_bytes(b"%PDF")
    (home / "portal.db").write_bytes(b"")
    assert loose(home)  # as an older version left it
    make_private(home)
    assert loose(home) == {}
    assert modes(home)["letters/ab/x.pdf"] == 0o600 and modes(home)["letters"] == 0o700


def test_a_portal_or_worker_on_postgresql_with_its_store_elsewhere_makes_no_home(tmp_path: Path) -> None:
    """Nothing of theirs lives in OFFERDESK_HOME: no folder, no portal.db. The database is unreachable here, so
    each ends with the outage's exit code (3), having got past where the home used to be made."""
    home, keys = tmp_path / "home", tmp_path / "keys.json"
    ensure_keyring(keys)
    environ = {
        **os.environ,
        "OFFERDESK_HOME": str(home),
        "OFFERDESK_KEYS_FILE": str(keys),
        "OFFERDESK_DATABASE_URL": f"postgresql://offerdesk@127.0.0.1:{free_port()}/offerdesk",
        "OFFERDESK_STORE_URL": str(tmp_path / "store"),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    for command in (["portal", "--port", str(free_port())], ["worker"]):
        result = subprocess.run([OFFERDESK, *command], env=environ, capture_output=True, text=True, check=False)
        assert result.returncode == 3, (command, result.stdout, result.stderr)
        assert not home.exists(), command
    assert not list(tmp_path.rglob("portal.db"))


@pytest.mark.parametrize(
    ("environ", "made"),
    [
        ({}, True),  # the SQLite file and the folder store, both in the home
        ({"OFFERDESK_DATABASE_URL": "postgresql://db.example/offerdesk"}, True),  # the folder store still is
        ({"OFFERDESK_STORE_URL": "s3://bucket/offers"}, True),  # the SQLite file still is
        ({"OFFERDESK_DATABASE_URL": "postgresql://db.example/offerdesk", "OFFERDESK_STORE_URL": "s3://bucket"}, False),
        ({"OFFERDESK_PORTAL_DB": "/elsewhere/portal.db", "OFFERDESK_STORE_URL": "/elsewhere/store"}, False),
    ],
)
def test_the_home_is_made_only_where_the_host_keeps_something(
    tmp_path: Path, environ: dict[str, str], made: bool
) -> None:
    from offerdesk.cli.run import keep_home_private
    from offerdesk.config import Settings

    home = tmp_path / "home"
    keep_home_private(Settings.from_env({"OFFERDESK_HOME": str(home), **environ}))
    assert home.exists() is made
    if made:
        assert loose(home) == {}
