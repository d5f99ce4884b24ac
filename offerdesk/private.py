"""Owner-only files: everything Offerdesk writes under OFFERDESK_HOME holds offers, users or keys.

Directories are 0700 and files 0600 whatever the umask: the process runs with umask 077, children (the
Temporal dev server) too, and what an older version left readable is tightened at start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

UMASK = 0o077


def keep_private() -> None:
    """From now on, this process and its children create owner-only files."""
    os.umask(UMASK)


def make_private(home: Path) -> None:
    """Create `home` owner-only, and tighten everything already under it (not following symlinks)."""
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    for root, dirs, files in os.walk(home):
        for name in dirs:
            path = Path(root, name)
            if not path.is_symlink():
                os.chmod(path, 0o700)
        for name in files:
            path = Path(root, name)
            if not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) & 0o077:
                os.chmod(path, 0o600)
