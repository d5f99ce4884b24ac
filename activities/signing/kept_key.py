"""A PKCS#12 identity's signer that parses its private key once, not for every signature."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1, translate_pyca_cryptography_key_to_asn1
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class KeptKeySigner(SimpleSigner):
    """pyHanko's SimpleSigner parses its key again for every signature, which takes 140 ms for an RSA-3072 key
    (cryptography checks the key each time it is loaded): as long as the letter's whole signing. This one keeps
    the parsed key; what it does not know (PSS, other curves) it leaves to SimpleSigner."""

    def __init__(self, key: PrivateKeyTypes, cert: x509.Certificate, others: Sequence[x509.Certificate]) -> None:
        registry = SimpleCertificateStore()
        registry.register_multiple([translate_pyca_cryptography_cert_to_asn1(c) for c in others])
        super().__init__(
            signing_cert=translate_pyca_cryptography_cert_to_asn1(cert),
            signing_key=translate_pyca_cryptography_key_to_asn1(key),
            cert_registry=registry,
        )
        self._key = key

    @classmethod
    def of(cls, key: PrivateKeyTypes, cert: x509.Certificate, others: Sequence[x509.Certificate]) -> KeptKeySigner:
        return cls(key, cert, others)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        digest = _DIGESTS.get(digest_algorithm.lower())
        if digest is not None and mechanism == "rsassa_pkcs1v15" and isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), digest())
        if digest is not None and mechanism == "ecdsa" and isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(digest()))
        signature: bytes = super().sign_raw(data, digest_algorithm)
        return signature
