from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from activities.store import LetterNotFoundError, LetterStore


def test_letters_are_stored_under_their_sha256_once(tmp_path: Path) -> None:
    store = LetterStore(tmp_path)
    data = b"%PDF-1.7 letter"
    letter_id = store.put(data)
    assert letter_id == hashlib.sha256(data).hexdigest()
    assert store.put(data) == letter_id
    assert store.get(letter_id) == data
    assert list(tmp_path.rglob("*.part")) == []


def test_a_damaged_or_unknown_letter_is_reported(tmp_path: Path) -> None:
    store = LetterStore(tmp_path)
    letter_id = store.put(b"abc")
    store.path_for(letter_id).write_bytes(b"abd")
    with pytest.raises(LetterNotFoundError, match="damaged"):
        store.get(letter_id)
    with pytest.raises(LetterNotFoundError, match="not in the store"):
        store.get("0" * 64)
    with pytest.raises(LetterNotFoundError, match="not a letter id"):
        store.get("../../etc/passwd")
