"""write_output, which every command that writes a file uses: whole files or none, through links, modes kept."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from offerdesk.cli.common import write_output


def test_a_file_that_cannot_be_written_whole_leaves_the_one_there_as_it_was(tmp_path: Path) -> None:
    """A write that fails part-way (here past a file-size limit, EFBIG) over an existing export: exit 2, and the
    old file is still there, unchanged, with no part file beside it."""
    target = tmp_path / "export.json"
    target.write_bytes(b"the export of yesterday")
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from offerdesk.cli.common import write_output\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))\n"
        "import typer\n"
        "try:\n"
        "    write_output(Path(sys.argv[1]), b'x' * 100_000)\n"
        "except typer.Exit as e:  # as the command's Typer app would\n"
        "    sys.exit(e.exit_code)\n"
    )
    environ = {**os.environ, "COLUMNS": "250"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(target)], capture_output=True, text=True, timeout=60, env=environ
    )
    assert done.returncode == 2 and "the file would be too large; nothing was written" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert target.read_bytes() == b"the export of yesterday"
    assert [p.name for p in tmp_path.iterdir()] == ["export.json"]


def test_a_written_file_keeps_the_mode_and_the_link_of_the_one_it_replaces(tmp_path: Path) -> None:
    real = tmp_path / "letters" / "jp.pdf"
    real.parent.mkdir()
    real.write_bytes(b"yesterday's letter")
    real.chmod(0o600)
    link = tmp_path / "latest.pdf"
    link.symlink_to(real)
    write_output(link, b"today's letter")
    assert link.is_symlink() and real.read_bytes() == b"today's letter"  # written through the link, not over it
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert sorted(p.name for p in real.parent.iterdir()) == ["jp.pdf"]  # no part file left
