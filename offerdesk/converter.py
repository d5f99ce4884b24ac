"""Confidential payloads: every payload Offerdesk sends through Temporal is AES-256-GCM encrypted.

The data converter that the worker, the CLI, the portal, the benchmark and the tests share is pydantic's,
with this codec composed onto it and failure messages encoded too. Keys live in a keyring file (ids and
keys, one marked current); rotation adds a key and makes it current, and old payloads still decrypt.

A payload that is not encrypted with a known key is never decoded into a value: it becomes a marker the
converter cannot read, so an update sent by a client without the key is rejected ("Failed decoding
arguments") and changes nothing. Histories written before encryption decode only when
OFFERDESK_ACCEPT_PLAINTEXT=1 is set, for the migration the README describes.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
REFUSED = b"binary/offerdesk-refused"
"""The encoding of a payload the codec would not decode: no converter reads it, so it is never a value."""
NONCE_BYTES = 12
KEY_BYTES = 32


class KeyringError(ValueError):
    """The keyring file is missing or unusable; the message says which file and what to do."""


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: dict[str, bytes]

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise KeyringError(
                f"no keyring at {path}: 'offerdesk up' makes one for the embedded server, 'offerdesk keys init' "
                "makes one elsewhere; every worker, CLI and portal of one installation needs the same file "
                "(OFFERDESK_KEYS_FILE)"
            ) from None
        except (OSError, ValueError) as e:
            raise KeyringError(f"the keyring at {path} cannot be read: {e}") from None
        try:
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in raw["keys"].items()}
            current = str(raw["current"])
        except (KeyError, TypeError, AttributeError, ValueError):
            raise KeyringError(
                f'the keyring at {path} is not {{"current": ID, "keys": {{ID: base64 key}}}}; restore it from a copy'
            ) from None
        if current not in keys:
            raise KeyringError(f"the keyring at {path} marks {current!r} current, but has no such key")
        short = sorted(k for k, v in keys.items() if len(v) != KEY_BYTES)
        if short:
            raise KeyringError(f"the keyring at {path} has keys that are not 256-bit: {', '.join(short)}")
        return cls(current=current, keys=keys)

    def save(self, path: Path) -> None:
        """Write owner-only, atomically: a crash never leaves a keyring without its keys."""
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"current": self.current, "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()}}
        tmp = path.with_name(path.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(body, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def rotated(self) -> Keyring:
        """A new current key beside the old ones, which keep decrypting what they encrypted."""
        key_id = datetime.now(UTC).strftime("k%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2)
        return Keyring(current=key_id, keys={**self.keys, key_id: AESGCM.generate_key(bit_length=256)})

    @classmethod
    def new(cls) -> Keyring:
        return cls(current="", keys={}).rotated()


def ensure_keyring(path: Path) -> bool:
    """Make a keyring at `path` unless one is there; True when it was made."""
    if path.exists():
        return False
    Keyring.new().save(path)
    return True


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM with the key id in the payload metadata and as associated data."""

    def __init__(self, keyring: Keyring, accept_plaintext: bool = False) -> None:
        self._keyring = keyring
        self._ciphers = {k: AESGCM(v) for k, v in keyring.keys.items()}
        self._accept_plaintext = accept_plaintext

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self._keyring.current
        cipher = self._ciphers[key_id]
        out = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode())
            out.append(Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode_one(p) for p in payloads]

    def _decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload if self._accept_plaintext else _refused("it is not encrypted")
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            return _refused(f"it is encrypted with key {key_id!r}, which is not in this keyring")
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            return _refused(f"it does not decrypt with key {key_id!r}: altered, or not made with this key")
        return Payload.FromString(plain)


def _refused(why: str) -> Payload:
    return Payload(metadata={"encoding": REFUSED, "reason": why.encode()}, data=b"")


def data_converter(keyring: Keyring, accept_plaintext: bool = False) -> DataConverter:
    """Pydantic's converter with the encryption codec, failure messages encrypted as well."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keyring, accept_plaintext),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
