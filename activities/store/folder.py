"""The default backend: a folder on the local disk (or a shared mount), private to the account running Offerdesk."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from activities.store.base import (
    Kind,
    NotInStoreError,
    ObjectStore,
    StoreUnavailableError,
    check_digest,
    check_intact,
    sha256_hex,
)

_DIR_MODE = 0o700
_FILE_MODE = 0o600
_HINT = "check OFFERDESK_STORE_URL and the folder's permissions"


class FolderStore(ObjectStore):
    """Objects live at ROOT/{kind}/{digest[:2]}/{digest}{ext}.

    Offers and letters are confidential, so folders are 0700 and files 0600 whatever the umask.
    `legacy_letters` is the folder older versions kept letters in (LEGACY/ab/abcdef….pdf); it is only read,
    so letters issued before the store existed can still be downloaded.
    """

    def __init__(self, root: Path, legacy_letters: Path | None = None) -> None:
        self.root = Path(root).expanduser().absolute()
        self.legacy_letters = Path(legacy_letters).expanduser().absolute() if legacy_letters is not None else None
        self.location = str(self.root)

    def path(self, kind: Kind, digest: str) -> Path:
        """Where the object is (or would be) under ROOT."""
        check_digest(digest, self.location)
        return self.root / kind.value / digest[:2] / f"{digest}{kind.extension}"

    def _legacy_path(self, kind: Kind, digest: str) -> Path | None:
        if kind is not Kind.LETTER or self.legacy_letters is None:
            return None
        return self.legacy_letters / digest[:2] / f"{digest}{kind.extension}"

    def put(self, kind: Kind, data: bytes) -> str:
        digest = sha256_hex(data)
        path = self.path(kind, digest)
        try:
            try:
                if path.stat().st_size == len(data):
                    return digest
            except (FileNotFoundError, NotADirectoryError):
                pass
            for folder in (self.root, self.root / kind.value, path.parent):
                _make_private_dir(folder)
            _write_atomically(path, data)
        except OSError as exc:
            raise StoreUnavailableError(f"cannot write to the store at {self.location}: {exc}; {_HINT}") from exc
        return digest

    def _candidates(self, kind: Kind, digest: str) -> list[Path]:
        """Where an object may be: its path, then where an older layout kept it."""
        legacy = self._legacy_path(kind, digest)
        return [self.path(kind, digest), *([legacy] if legacy is not None else [])]

    def get(self, kind: Kind, digest: str) -> bytes:
        for path in self._candidates(kind, digest):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreUnavailableError(f"cannot read from the store at {self.location}: {exc}; {_HINT}") from exc
            return check_intact(data, digest, str(path))
        raise NotInStoreError(f"there is no {kind.value} object {digest} in the store at {self.location}")

    def exists(self, kind: Kind, digest: str) -> bool:
        for path in self._candidates(kind, digest):
            try:
                path.stat()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreUnavailableError(f"cannot read from the store at {self.location}: {exc}; {_HINT}") from exc
            return True
        return False

    def put_record(self, kind: Kind, key: str, data: bytes) -> bytes:
        path = self.path(kind, key)
        try:
            for folder in (self.root, self.root / kind.value, path.parent):
                _make_private_dir(folder)
            if _write_once(path, data):
                return data
        except OSError as exc:
            raise StoreUnavailableError(f"cannot write to the store at {self.location}: {exc}; {_HINT}") from exc
        found = self.get_record(kind, key)
        return data if found is None else found

    def get_record(self, kind: Kind, key: str) -> bytes | None:
        try:
            return self.path(kind, key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StoreUnavailableError(f"cannot read from the store at {self.location}: {exc}; {_HINT}") from exc


def _write_once(path: Path, data: bytes) -> bool:
    """Write beside the target and link it into place unless something is there already: True when written."""
    return _place(path, data, lambda tmp: os.link(tmp, path))


def _make_private_dir(folder: Path) -> None:
    """Create `folder` as 0700 (its parents as the umask says), or accept it if it already is a folder."""
    if folder.is_dir():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=_DIR_MODE)
    except FileExistsError:
        if not folder.is_dir():
            raise
        return  # another thread or process made it first
    os.chmod(folder, _DIR_MODE)  # mkdir's mode is masked by the umask


def _write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target, sync, then rename, so a crash never leaves a partial object under its id."""
    _place(path, data, lambda tmp: os.replace(tmp, path))


def _place(path: Path, data: bytes, put: Callable[[str], None]) -> bool:
    """Write `data` to a synced file beside `path` and `put` it in place (rename, or link: False if something is
    there already); then sync the folder, so the move itself survives a power cut: an acknowledged object is never
    lost. The file beside is gone either way."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _FILE_MODE)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            put(tmp)
        except FileExistsError:
            return False
    finally:
        Path(tmp).unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True
