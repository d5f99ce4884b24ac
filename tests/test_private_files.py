"""Everything Offerdesk writes under OFFERDESK_HOME is owner-only: 0700 folders, 0600 files, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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
