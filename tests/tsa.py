"""Certificates for tests, and a local RFC 3161 timestamp authority over HTTP on 127.0.0.1 (pyHanko's TimeStamper).

`TimestampAuthority` serves `POST /` with `application/timestamp-query` bodies, answering with tokens signed by a
TSA certificate issued by a test root; the root's PEM is `root_pem`, for the trust a check needs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1, translate_pyca_cryptography_key_to_asn1
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from activities.signing.identity import key_usage


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str, key: rsa.RSAPrivateKey, issuer: tuple[str, rsa.RSAPrivateKey] | None, *, ca: bool, tsa: bool
) -> x509.Certificate:
    now = datetime.now(UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if tsa:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    if ca:
        builder = builder.add_extension(key_usage("digital_signature", "key_cert_sign", "crl_sign"), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class TimestampAuthority:
    url: str
    root_pem: Path
    name: str
    requests: list[datetime]


@contextmanager
def timestamp_authority(
    folder: Path, name: str = "Offerdesk test timestamp authority", fixed_time: datetime | None = None
) -> Iterator[TimestampAuthority]:
    """A TSA on a free port of 127.0.0.1 until the block ends; `fixed_time` stamps every token with that time."""
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = _certificate("Offerdesk test TSA root", root_key, None, ca=True, tsa=False)
    cert = _certificate(name, tsa_key, ("Offerdesk test TSA root", root_key), ca=False, tsa=True)
    stamper = DummyTimeStamper(
        tsa_cert=translate_pyca_cryptography_cert_to_asn1(cert),
        tsa_key=translate_pyca_cryptography_key_to_asn1(tsa_key),
        certs_to_embed=None,
        fixed_dt=fixed_time,
    )
    folder.mkdir(parents=True, exist_ok=True)
    root_pem = folder / "tsa-root.pem"
    root_pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    seen: list[datetime] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            answer = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            seen.append(datetime.now(UTC))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="test-tsa", daemon=True)
    thread.start()
    try:
        yield TimestampAuthority(f"http://127.0.0.1:{server.server_address[1]}/", root_pem, name, seen)
    finally:
        server.shutdown()
        server.server_close()
