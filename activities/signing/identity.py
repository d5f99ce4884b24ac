"""The office's signing identity: a PKCS#12 file, or a key and certificate on a PKCS#11 token (an HSM).

OFFERDESK_SIGNING_KEY names either a PKCS#12 file (its passphrase in OFFERDESK_SIGNING_PASSPHRASE_FILE) or a
token object as an RFC 7512 `pkcs11:` URI, read through the module in OFFERDESK_PKCS11_MODULE (the PIN from the
URI's pin-value or pin-source, else from the passphrase file). `offerdesk up` makes a self-signed development
identity when none is configured; its certificate says it is not for real letters.
"""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_to_bytes

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509 as cryptography_x509
    from pyhanko.sign.signers import Signer

KEY_USES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)
"""The fields of cryptography's x509.KeyUsage, each allowed or not."""
DEV_SIGNER_NAME = "Offerdesk development signer, not for real letters"
OFFICE = "Office of the Trade Representative"
"""The office letters are signed for, when the certificate names no organization."""


class SigningError(Exception):
    """The signing identity cannot be used, or a letter cannot be signed: the message says what to fix."""


class SigningUnavailable(SigningError):
    """The timestamp authority or the token did not answer: another try may well succeed."""


@dataclass(frozen=True)
class SigningConfig:
    """Where the signing identity is, and the timestamp authority: plain strings, so render processes get a copy."""

    key: str
    """A PKCS#12 file's path, or a `pkcs11:` URI."""
    passphrase_file: str | None = None
    pkcs11_module: str | None = None
    tsa_url: str | None = None
    """An RFC 3161 timestamp authority (PAdES B-T); None signs B-B."""
    trust_file: str | None = None
    """More certificates to trust when checking letters (PEM): older signing certificates, the office's CA."""

    @property
    def on_token(self) -> bool:
        return self.key.startswith("pkcs11:")


@dataclass(frozen=True)
class TokenObject:
    """A key and its certificate on a PKCS#11 token, as a `pkcs11:` URI names them."""

    token: str | None
    label: str | None
    id: bytes | None
    pin: str | None
    module: str | None


def parse_pkcs11_uri(uri: str) -> TokenObject:
    """The token, object label or id, and PIN of an RFC 7512 URI: pkcs11:token=Office;object=signer?pin-value=1234."""
    if not uri.startswith("pkcs11:"):
        raise SigningError(f"OFFERDESK_SIGNING_KEY is a PKCS#12 file or a pkcs11: URI, not {uri!r}")
    path, _, query = uri[len("pkcs11:") :].partition("?")
    attrs: dict[str, str] = {}
    for part in [p for p in path.split(";") if p] + [q for q in query.split("&") if q]:
        name, sep, value = part.partition("=")
        if not sep:
            raise SigningError(f"the pkcs11: URI has {part!r} where it needs name=value")
        attrs[name.strip()] = value
    pin = unquote(attrs["pin-value"]) if "pin-value" in attrs else None
    if pin is None and "pin-source" in attrs:
        source = unquote(attrs["pin-source"]).removeprefix("file:").removeprefix("//")
        pin = _read_secret(Path(source), "the PIN file of the pkcs11: URI (pin-source)")
    return TokenObject(
        token=unquote(attrs["token"]) if "token" in attrs else None,
        label=unquote(attrs["object"]) if "object" in attrs else None,
        id=unquote_to_bytes(attrs["id"]) if "id" in attrs else None,
        pin=pin,
        module=unquote(attrs["module-path"]) if "module-path" in attrs else None,
    )


def _read_secret(path: Path, what: str) -> str:
    try:
        return path.read_text().strip()
    except OSError as e:
        raise SigningError(f"cannot read {what} at {path}: {e.strerror or e}") from None


def _passphrase(config: SigningConfig) -> str | None:
    if not config.passphrase_file:
        return None
    path = Path(config.passphrase_file)
    if not path.exists():
        return None
    return _read_secret(path, "OFFERDESK_SIGNING_PASSPHRASE_FILE")


def load_signer(config: SigningConfig) -> Signer:
    """The pyHanko signer of the configured identity (a SigningError says what is wrong)."""
    return _token_signer(config) if config.on_token else _pkcs12_signer(config)


def _pkcs12_signer(config: SigningConfig) -> Signer:
    from cryptography.hazmat.primitives.serialization import pkcs12

    from activities.signing.kept_key import KeptKeySigner

    path = Path(config.key)
    try:
        data = path.read_bytes()
    except OSError as e:
        hint = "; 'offerdesk up' makes a development identity, or set OFFERDESK_SIGNING_KEY (README: Signed letters)"
        raise SigningError(f"cannot read the signing key at {path}: {e.strerror or e}{hint}") from None
    secret = _passphrase(config)
    try:
        key, cert, others = pkcs12.load_key_and_certificates(data, secret.encode() if secret is not None else None)
    except ValueError:
        raise SigningError(
            f"the signing key at {path} does not open: not a PKCS#12 file, or the passphrase in "
            f"{config.passphrase_file or 'OFFERDESK_SIGNING_PASSPHRASE_FILE (unset)'} is not its passphrase"
        ) from None
    if key is None or cert is None:
        raise SigningError(f"the PKCS#12 file at {path} must hold a private key and its certificate")
    return KeptKeySigner.of(key, cert, others)


def _token_signer(config: SigningConfig) -> Signer:
    obj = parse_pkcs11_uri(config.key)
    module = config.pkcs11_module or obj.module
    if not module:
        raise SigningError("a pkcs11: signing key needs OFFERDESK_PKCS11_MODULE, the token's PKCS#11 library (.so)")
    pin = obj.pin if obj.pin is not None else _passphrase(config)
    if obj.label is None and obj.id is None:
        raise SigningError("the pkcs11: URI must name the key and certificate: object=LABEL or id=%01")
    try:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
    except ImportError as e:  # python-pkcs11 missing
        raise SigningError(f"signing with a PKCS#11 token needs python-pkcs11: {e}") from None
    try:
        session = open_pkcs11_session(
            module, token_criteria=TokenCriteria(label=obj.token) if obj.token else None, user_pin=pin
        )
        signer: Signer = PKCS11Signer(
            session, cert_label=obj.label, key_label=obj.label, cert_id=obj.id, key_id=obj.id, other_certs_to_pull=None
        )
        signer.signing_cert  # noqa: B018  (loads the key and certificate now, so a wrong URI is said at start)
    except Exception as e:  # python-pkcs11's errors have no common base worth naming
        raise SigningError(
            f"the PKCS#11 token of {_without_pin(config.key)} (module {module}) cannot sign: {type(e).__name__} {e}"
        ) from None
    return signer


def _without_pin(uri: str) -> str:
    path, _, query = uri.partition("?")
    kept = [q for q in query.split("&") if q and not q.startswith("pin-value=")]
    return path + ("?" + "&".join(kept) if kept else "")


@functools.cache
def cached_signer(config: SigningConfig) -> Signer:
    """One signer per process and identity: a render process loads the key (or opens the token) once."""
    return load_signer(config)


def certificate_names(cert: asn1_x509.Certificate) -> tuple[str, str]:
    """The office (the certificate's organization, or OFFICE) and the signer (its common name) a certificate names."""
    subject = cert.subject.native
    signer = str(subject.get("common_name") or cert.subject.human_friendly)
    return str(subject.get("organization_name") or OFFICE), signer


def installation_certificates(config: SigningConfig) -> list[asn1_x509.Certificate]:
    """The certificates letters are checked against by default: the signing certificate, the others the identity
    holds (its chain), and those of OFFERDESK_SIGNING_TRUST (older signing certificates, the office's CA).

    A host that only checks letters (a portal, a partner's desk) needs no key: with OFFERDESK_SIGNING_TRUST set and
    no identity to open here, its certificates alone are the trust."""
    return installation_trust_of(config)[0]


def installation_trust_of(config: SigningConfig) -> tuple[list[asn1_x509.Certificate], bool]:
    """`installation_certificates`, and whether the identity opened (opening it once: it may be an HSM login)."""
    found: list[asn1_x509.Certificate | None] = []
    opened = False
    try:
        signer = cached_signer(config)
        found += [signer.signing_cert, *signer.cert_registry]
        opened = True
    except SigningError:
        if not config.trust_file:
            raise
    if config.trust_file:
        found += read_certificates(Path(config.trust_file))
    unique: dict[bytes, asn1_x509.Certificate] = {}
    for cert in found:
        if cert is not None:
            unique.setdefault(cert.sha256, cert)
    return list(unique.values()), opened


def read_certificates(path: Path) -> list[asn1_x509.Certificate]:
    """Every certificate of a PEM (or DER) file."""
    from pyhanko.keys import load_certs_from_pemder_data

    try:
        data = path.read_bytes()
    except OSError as e:
        raise SigningError(f"cannot read the certificates at {path}: {e.strerror or e}") from None
    try:
        certs = list(load_certs_from_pemder_data(data))
        for cert in certs:  # parsed lazily: a file that is no certificate fails here
            _ = cert.sha256, cert.subject.human_friendly, cert.public_key.algorithm
    except Exception:  # asn1crypto raises ValueError, TypeError and others on what is not a certificate
        certs = []
    if not certs:
        raise SigningError(f"{path} holds no certificate (PEM or DER)")
    return certs


def key_usage(*allowed: str) -> cryptography_x509.KeyUsage:
    """A KeyUsage extension that allows only the uses named (the fields of x509.KeyUsage, such as "crl_sign")."""
    from cryptography import x509

    uses = KEY_USES
    unknown = set(allowed) - set(uses)
    if unknown:
        raise ValueError(f"no such key usage: {', '.join(sorted(unknown))}")
    return x509.KeyUsage(**{use: use in allowed for use in uses})


def make_dev_identity(key_path: Path, passphrase_path: Path, *, name: str = DEV_SIGNER_NAME) -> bool:
    """A self-signed RSA-3072 identity as a PKCS#12 file and its random passphrase, both 0600, unless the key file
    exists already; True when made. Valid ten years; its common name says it is not for real letters."""
    if key_path.exists():
        return False
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, OFFICE)]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage("digital_signature", "content_commitment"), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    secret = secrets.token_urlsafe(32)
    data = pkcs12.serialize_key_and_certificates(
        b"offerdesk-signer", key, cert, None, serialization.BestAvailableEncryption(secret.encode())
    )
    _write_private(passphrase_path, (secret + "\n").encode())
    _write_private(key_path, data)
    return True


def _write_private(path: Path, data: bytes) -> None:
    """Write an owner-only (0600) file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
