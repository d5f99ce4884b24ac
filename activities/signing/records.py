"""Which signed letter an unsigned letter became: a record in the store under the unsigned body's SHA-256.

A signature differs on every signing (its time, the timestamp token), so a letter activity retried after it had
signed and stored its letter would otherwise store a second, different copy under another id. The unsigned body
is reproducible byte for byte, so its digest finds the letter signed from it: the activity looks before signing,
and the first record kept wins when two tries race.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ValidationError

from activities.store import Kind, ObjectStore


class SignedRecord(BaseModel):
    letter_id: str
    """The SHA-256 of the signed letter, its id in the store."""
    size: int
    signed_by: str
    signed_at: datetime


def find_signed(store: ObjectStore, body_sha256: str) -> SignedRecord | None:
    """The letter signed from this unsigned body, if one was signed and is still in the store."""
    raw = store.get_record(Kind.SIGNED, body_sha256)
    if raw is None:
        return None
    try:
        record = SignedRecord.model_validate_json(raw)
    except ValidationError:
        return None
    return record if store.exists(Kind.LETTER, record.letter_id) else None


def keep_signed(
    store: ObjectStore, body_sha256: str, signed: bytes, signed_by: str, signed_at: datetime
) -> SignedRecord:
    """Store the signed letter, then its record; if another try recorded its own first, that one is the letter."""
    letter_id = store.put(Kind.LETTER, signed)
    ours = SignedRecord(letter_id=letter_id, size=len(signed), signed_by=signed_by, signed_at=signed_at)
    kept = store.put_record(Kind.SIGNED, body_sha256, ours.model_dump_json().encode())
    try:
        record = SignedRecord.model_validate_json(kept)
    except ValidationError:
        return ours
    if record.letter_id != letter_id and not store.exists(Kind.LETTER, record.letter_id):
        return ours  # the record names a letter no longer in the store: ours stands in for it
    return record
