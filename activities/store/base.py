"""The store's vocabulary: kinds of object, errors, and the interface both backends implement.

Objects are addressed by the SHA-256 of their bytes, so a stored object can be checked on every read and
writing the same bytes twice is one object.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from enum import StrEnum

_DIGEST = re.compile(r"[0-9a-f]{64}")


class Kind(StrEnum):
    """What an object is; the value is its top-level folder (or key segment), so kinds never share a key."""

    OFFER = "offers"
    REPORT = "reports"
    AUDIT = "audit"
    LETTER = "letters"
    SIGNED = "signed"
    """Records, not content-addressed objects: under an unsigned letter's SHA-256, the letter signed from it."""

    @property
    def extension(self) -> str:
        """The file extension, so a stored object opens in the right program when someone browses the store."""
        return ".pdf" if self is Kind.LETTER else ".json"

    @property
    def content_type(self) -> str:
        """The MIME type S3 serves the object with."""
        return "application/pdf" if self is Kind.LETTER else "application/json"


class StoreError(Exception):
    """Base of the store's errors; the message is a sentence a person can act on, naming the store's location."""


class StoreUnavailableError(StoreError):
    """The store cannot be read or written right now (I/O, network, missing bucket, access denied): may heal."""


class NotInStoreError(StoreError):
    """No such object, or the id is not a SHA-256 in hex: retrying will not help."""


class DamagedObjectError(StoreError):
    """The bytes read back do not match their SHA-256: the copy in the store is damaged."""


def sha256_hex(data: bytes) -> str:
    """The object id of `data`."""
    return hashlib.sha256(data).hexdigest()


def check_digest(digest: str, location: str) -> str:
    """Refuse anything but 64 lowercase hex characters before a path or key is built from it (no traversal)."""
    if not isinstance(digest, str) or _DIGEST.fullmatch(digest) is None:
        raise NotInStoreError(
            f"{digest!r} is not an object id (a SHA-256 as 64 lowercase hex characters) in {location}"
        )
    return digest


def check_intact(data: bytes, digest: str, where: str) -> bytes:
    """Return `data` if it hashes to `digest`; otherwise say where the damaged copy is."""
    if sha256_hex(data) != digest:
        raise DamagedObjectError(
            f"the object {digest} at {where} is damaged: its SHA-256 does not match; restore it from a backup "
            "or store the original again"
        )
    return data


class ObjectStore(ABC):
    """A content-addressed store: put returns the SHA-256 of the bytes, get checks it."""

    location: str
    """Where the store is, for messages: "/abs/path/to/store" or "s3://bucket/prefix"."""

    @abstractmethod
    def put(self, kind: Kind, data: bytes) -> str:
        """Store `data` and return its SHA-256 in hex.

        Idempotent (the same bytes twice are one object, and the second call is cheap) and atomic (a reader
        never sees a partial object under its key), so an activity retried after a crash can simply put again.
        """

    @abstractmethod
    def get(self, kind: Kind, digest: str) -> bytes:
        """The bytes stored under `digest`, verified against it."""

    @abstractmethod
    def exists(self, kind: Kind, digest: str) -> bool:
        """Whether an object is stored under `digest` (without reading or verifying it)."""

    @abstractmethod
    def put_record(self, kind: Kind, key: str, data: bytes) -> bytes:
        """Keep `data` under `key` (a SHA-256 in hex) unless a record is there already, and return the record now
        under `key`: the first writer wins, so two tries that race agree on one record. Atomic, as `put`."""

    @abstractmethod
    def get_record(self, kind: Kind, key: str) -> bytes | None:
        """The record under `key`, or None."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"
