"""A content-addressed object store for offers, reports, audit chunks and letters, in a folder or an S3 bucket.

Workflows carry only digests (claim checks); the bytes live here. `open_store` picks the backend from
OFFERDESK_STORE_URL.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from activities.store.base import (
    DamagedObjectError,
    Kind,
    NotInStoreError,
    ObjectStore,
    StoreError,
    StoreUnavailableError,
    sha256_hex,
)
from activities.store.folder import FolderStore

__all__ = [
    "DamagedObjectError",
    "FolderStore",
    "Kind",
    "NotInStoreError",
    "ObjectStore",
    "StoreError",
    "StoreUnavailableError",
    "open_store",
    "sha256_hex",
]


def open_store(url: str | None, home: Path) -> ObjectStore:
    """The store OFFERDESK_STORE_URL names: unset means a folder under the Offerdesk home.

    Accepted: a folder path (absolute, relative or ~), file:///abs/path, s3://bucket or s3://bucket/prefix.
    """
    if not url:
        return FolderStore(home / "store", legacy_letters=home / "letters")
    if "://" not in url:
        return FolderStore(Path(url).expanduser().resolve())
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"OFFERDESK_STORE_URL must name a bucket, as in s3://bucket/prefix, not {url!r}")
        from activities.store.s3 import S3Store  # boto3 takes a quarter of a second to import: only when used

        return S3Store(parts.netloc, parts.path.strip("/"))
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"OFFERDESK_STORE_URL must be a local file:///path, not {url!r} (a file URL with a host)")
        return FolderStore(Path(unquote(parts.path)).expanduser().resolve())
    raise ValueError(f"OFFERDESK_STORE_URL must be a folder path, file:///path or s3://bucket/prefix, not {url!r}")
