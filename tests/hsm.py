"""A SoftHSM2 token (Debian's softhsm2) holding a signing identity, for the tests that sign with an HSM."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN, LABEL, PIN = "offerdesk-test", "letter-signer", "1234"


@dataclass(frozen=True)
class Token:
    uri: str
    """The pkcs11: URI of the key and its certificate, the PIN in it (pin-value)."""
    module: str


def _bytes(number: int) -> bytes:
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


@contextmanager
def softhsm_token(folder: Path, p12: Path, passphrase: Path) -> Iterator[Token]:
    """A fresh token with the PKCS#12 identity's key and certificate; SOFTHSM2_CONF points at it for this process
    (SoftHSM reads it once, when a process first loads the module: one token configuration per test process)."""
    import pkcs11
    from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass

    util = shutil.which("softhsm2-util")
    assert util and Path(SOFTHSM_MODULE).exists(), "SoftHSM2 is missing: apt-get install softhsm2 (make test does)"
    tokens = folder / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        subprocess.run(
            [util, "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", "5678"],
            check=True,
            capture_output=True,
        )
        key, cert, _ = pkcs12.load_key_and_certificates(p12.read_bytes(), passphrase.read_text().strip().encode())
        assert isinstance(key, rsa.RSAPrivateKey) and cert is not None
        numbers = key.private_numbers()
        token = pkcs11.lib(SOFTHSM_MODULE).get_token(token_label=TOKEN)
        with token.open(rw=True, user_pin=PIN) as session:
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                    Attribute.KEY_TYPE: KeyType.RSA,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.SIGN: True,
                    Attribute.LABEL: LABEL,
                    Attribute.ID: b"\x01",
                    Attribute.MODULUS: _bytes(numbers.public_numbers.n),
                    Attribute.PUBLIC_EXPONENT: _bytes(numbers.public_numbers.e),
                    Attribute.PRIVATE_EXPONENT: _bytes(numbers.d),
                    Attribute.PRIME_1: _bytes(numbers.p),
                    Attribute.PRIME_2: _bytes(numbers.q),
                    Attribute.EXPONENT_1: _bytes(numbers.dmp1),
                    Attribute.EXPONENT_2: _bytes(numbers.dmq1),
                    Attribute.COEFFICIENT: _bytes(numbers.iqmp),
                }
            )
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.LABEL: LABEL,
                    Attribute.ID: b"\x01",
                    Attribute.VALUE: cert.public_bytes(Encoding.DER),
                    Attribute.SUBJECT: cert.subject.public_bytes(),
                }
            )
        yield Token(f"pkcs11:token={TOKEN};object={LABEL}?pin-value={PIN}", SOFTHSM_MODULE)
    finally:
        if before is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = before
