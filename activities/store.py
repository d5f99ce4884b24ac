"""A content-addressed file store for letters: the id is the SHA-256 of the bytes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class LetterNotFoundError(FileNotFoundError):
    pass


class LetterStore:
    """Letters live at ROOT/ab/abcdef….pdf; writing the same bytes twice is a no-op."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, letter_id: str) -> Path:
        if len(letter_id) != 64 or any(c not in "0123456789abcdef" for c in letter_id):
            raise LetterNotFoundError(f"{letter_id!r} is not a letter id (a SHA-256 in hex)")
        return self.root / letter_id[:2] / f"{letter_id}.pdf"

    def put(self, data: bytes) -> str:
        letter_id = hashlib.sha256(data).hexdigest()
        path = self.path_for(letter_id)
        if path.exists() and path.stat().st_size == len(data):
            return letter_id
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a crash never leaves a half-written letter under its id.
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return letter_id

    def get(self, letter_id: str) -> bytes:
        path = self.path_for(letter_id)
        if not path.exists():
            raise LetterNotFoundError(f"letter {letter_id} is not in the store at {self.root}")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != letter_id:
            raise LetterNotFoundError(f"letter {letter_id} at {path} is damaged: its SHA-256 does not match")
        return data
