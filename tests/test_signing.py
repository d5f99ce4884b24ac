"""Signed letters: PAdES in an incremental update that keeps the letter a tagged PDF/A-3a, checked with pyHanko's
validator, qpdf and pikepdf; a local timestamp authority (B-T); SoftHSM2 as the HSM."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pikepdf
import pypdf
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from activities.render import render_letter_pdf
from activities.signing import sign as sign_module
from activities.signing.identity import (
    DEV_SIGNER_NAME,
    OFFICE,
    SigningConfig,
    SigningError,
    installation_certificates,
    key_usage,
    load_signer,
    make_dev_identity,
    parse_pkcs11_uri,
    read_certificates,
)
from activities.signing.sign import FIELD_NAME, FIELD_WIDTH_PT, archival_problems, sign_letter
from activities.signing.verify import UnreadableLetter, check_letter
from offers.documents import load_offer
from tests.hsm import softhsm_token
from tests.letters import letter_input
from tests.tsa import TimestampAuthority, timestamp_authority

EXAMPLE = Path(__file__).parent / "data" / "offer.example.json"


@dataclass(frozen=True)
class Identity:
    config: SigningConfig
    p12: Path
    passphrase: Path


def _identity(folder: Path, name: str = DEV_SIGNER_NAME) -> Identity:
    p12, passphrase = folder / "signing.p12", folder / "signing.pass"
    assert make_dev_identity(p12, passphrase, name=name)
    return Identity(SigningConfig(key=str(p12), passphrase_file=str(passphrase)), p12, passphrase)


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return _identity(tmp_path_factory.mktemp("office"))


@pytest.fixture(scope="module")
def unsigned() -> bytes:
    return render_letter_pdf(letter_input(load_offer(EXAMPLE), rate=15.0))[0]


@pytest.fixture(scope="module")
def signed(office: Identity, unsigned: bytes) -> bytes:
    return sign_letter(office.config, unsigned).pdf


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TimestampAuthority]:
    with timestamp_authority(tmp_path_factory.mktemp("tsa")) as authority:
        yield authority


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


# ---- signing keeps the letter what it was ------------------------------------------------------


def test_signing_is_an_incremental_update_that_keeps_pdfa_3a_tags_attachments_and_metadata(
    unsigned: bytes, signed: bytes
) -> None:
    assert signed.startswith(unsigned)  # an incremental update: the unsigned body is untouched, byte for byte
    assert archival_problems(signed) == []
    with pikepdf.open(io.BytesIO(unsigned)) as before, pikepdf.open(io.BytesIO(signed)) as after:
        meta = after.open_metadata()
        assert meta.pdfa_status == "3A"
        # The XMP packet and the Info dictionary are the ones WeasyPrint wrote (pyHanko would rewrite the XMP).
        assert after.Root.Metadata.read_bytes() == before.Root.Metadata.read_bytes()
        assert dict(after.trailer.Info) == dict(before.trailer.Info)
        assert bool(after.Root.MarkInfo.Marked) and "/StructTreeRoot" in after.Root
        assert str(after.Root.Lang) == "en"
        assert sorted(after.attachments) == ["landing-zone.json", "offer.json", "tariff-lines.csv"]
        assert {str(spec.UF) for spec in after.Root.AF} == set(after.attachments)


def test_qpdf_finds_the_signed_letter_sound(signed: bytes, tmp_path: Path) -> None:
    qpdf = shutil.which("qpdf")
    assert qpdf, "qpdf is missing: apt-get install qpdf (make test does)"
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    result = subprocess.run([qpdf, "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors" in result.stdout


def test_pyhankos_validator_finds_the_signature_intact_over_the_whole_file(office: Identity, signed: bytes) -> None:
    [sig] = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    context = ValidationContext(trust_roots=installation_certificates(office.config), allow_fetching=False)
    status = validate_pdf_signature(sig, context)
    assert status.intact and status.valid and status.trusted
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
    assert status.timestamp_validity is None  # no timestamp authority: B-B


def test_the_visible_signature_sits_on_the_last_page_and_is_tagged(signed: bytes) -> None:
    with pikepdf.open(io.BytesIO(signed)) as doc:
        last = doc.pages[-1]
        [widget] = [a for a in last.get("/Annots", []) if str(a.get("/T")) == FIELD_NAME]
        assert not any("/Annots" in page for page in doc.pages[:-1])
        x1, y1, x2, y2 = (float(v) for v in widget.Rect)
        assert x2 - x1 == FIELD_WIDTH_PT and y2 > y1 > 0 and x1 > 0
        assert int(widget.F) & 4 and not int(widget.F) & 2  # printed, not hidden (PDF/A)
        assert str(last.Tabs) == "/S"
        # The appearance names the office, the signer and the time, in an embedded font.
        appearance = widget.AP.N
        font = next(iter(appearance.Resources.Font.values()))
        assert "/FontFile2" in font.DescendantFonts[0].FontDescriptor
        alt = str(widget.Contents)
        assert OFFICE in alt and DEV_SIGNER_NAME in alt and " UTC" in alt
        # Tagged: a Form element whose object reference is the widget, with the same words as alternative text,
        # in the place of the letter's signature box, and the widget's StructParent leads back to it.
        tree = doc.Root.StructTreeRoot
        nums = list(tree.ParentTree.Nums)
        form = {int(k): v for k, v in zip(nums[::2], nums[1::2], strict=True)}[int(widget.StructParent)]
        assert str(form.S) == "/Form" and str(form.Alt) == alt
        assert str(form.K.Type) == "/OBJR" and form.K.Obj.objgen == widget.objgen
        assert str(form.P.S) == "/Div" and str(form.P.P.S) == "/Sect"
        assert int(tree.ParentTreeNextKey) == int(widget.StructParent) + 1
        # What the block shows, read back: the appearance drawn into the page as a reader draws it.
        doc.flatten_annotations(mode="all")
        flat = io.BytesIO()
        doc.save(flat)
    drawn = pypdf.PdfReader(flat).pages[-1].extract_text()
    when = alt.split(" at ")[-1].rstrip(".")
    assert f"Signed for {OFFICE}\nSigner: {DEV_SIGNER_NAME}\nTime: {when}" in drawn, drawn[-300:]


@pytest.mark.parametrize(
    ("tamper", "found"),
    [
        (lambda data: data[:100] + bytes([data[100] ^ 1]) + data[101:], "the file changed after it was signed"),
        (lambda data: data + b"%% appended\n", "the signature does not cover the whole file"),
    ],
)
def test_the_check_after_signing_refuses_bytes_that_are_not_what_was_signed(
    office: Identity, unsigned: bytes, monkeypatch: pytest.MonkeyPatch, tamper: Callable[[bytes], bytes], found: str
) -> None:
    """sign_letter checks what it wrote on the bytes themselves: a byte changed, or bytes beyond the signed range,
    after pyHanko wrote the signature, are a SigningError, never a letter."""
    real = sign_module._sign

    async def tampered(*args: Any, **kwargs: Any) -> tuple[bytes, Any, bytes]:
        data, digest, cms_der = await real(*args, **kwargs)
        return tamper(data), digest, cms_der

    monkeypatch.setattr(sign_module, "_sign", tampered)
    with pytest.raises(SigningError, match=found):
        sign_letter(office.config, unsigned)


def test_a_pdf_without_the_letters_signature_box_is_not_signed(office: Identity, unsigned: bytes) -> None:
    """Never an invisible signature: a PDF that lacks the letter's signature box is refused with a sentence."""
    with pikepdf.open(io.BytesIO(unsigned)) as doc:
        del doc.Root.Names.Dests  # the named destinations, the signature box's among them
        out = io.BytesIO()
        doc.save(out)
    with pytest.raises(SigningError, match="the letter has no signature box"):
        sign_letter(office.config, out.getvalue())


def test_the_unsigned_body_stays_reproducible_and_every_signature_differs(
    office: Identity, unsigned: bytes, signed: bytes
) -> None:
    again = render_letter_pdf(letter_input(load_offer(EXAMPLE), rate=15.0))[0]
    assert again == unsigned
    assert sign_letter(office.config, again).pdf != signed  # hence: a retried letter reuses what it stored


# ---- checking a letter --------------------------------------------------------------------------


def test_a_signed_letter_checks_valid_against_the_installations_certificate(office: Identity, signed: bytes) -> None:
    check = check_letter(signed, installation_certificates(office.config))
    assert check.valid and check.trusted and check.covers_whole_file
    assert check.signer == DEV_SIGNER_NAME and check.signed_at is not None and check.timestamp is None
    assert "unchanged" in check.reason


def test_a_letter_with_one_byte_changed_fails(office: Identity, unsigned: bytes, signed: bytes) -> None:
    trust = installation_certificates(office.config)
    for at in (len(unsigned) // 2, 200, len(unsigned) - 100):
        check = check_letter(_flip(signed, at), trust)
        assert not check.valid and not check.covers_whole_file, at
        assert "changed" in check.reason, check.reason  # not readable any more, or not matching the signature


def test_a_letter_with_something_appended_after_signing_is_not_valid(office: Identity, signed: bytes) -> None:
    from pyhanko.pdf_utils.generic import TextStringObject, pdf_name
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.root[pdf_name("/Lang")] = TextStringObject("fr")  # any change after signing will do
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    check = check_letter(out.getvalue(), installation_certificates(office.config))
    assert not check.valid and not check.covers_whole_file and "added" in check.reason


def test_a_letter_signed_by_another_key_is_untrusted(office: Identity, unsigned: bytes, tmp_path: Path) -> None:
    impostor = _identity(tmp_path, name="Offerdesk development signer, not for real letters")
    forged = sign_letter(impostor.config, unsigned).pdf
    check = check_letter(forged, installation_certificates(office.config))
    assert check.covers_whole_file and not check.trusted and not check.valid
    assert "not one of the trusted certificates" in check.reason


def test_an_unsigned_letter_is_not_valid_and_a_non_pdf_is_unreadable(office: Identity, unsigned: bytes) -> None:
    trust = installation_certificates(office.config)
    check = check_letter(unsigned, trust)
    assert not check.valid and check.signer is None and "not signed" in check.reason
    for junk in (b"", b"hello", b"<html>%PDF-</html>".rjust(2000)):
        with pytest.raises(UnreadableLetter):
            check_letter(junk, trust)
    damaged = check_letter(b"%PDF-1.7\n garbage", trust)
    assert not damaged.valid and "damaged" in damaged.reason


def test_after_a_rotation_old_letters_stay_valid(office: Identity, signed: bytes, tmp_path: Path) -> None:
    new = _identity(tmp_path / "new", name="Offerdesk letter signer 2027")
    assert not check_letter(signed, installation_certificates(new.config)).valid
    old_cert = tmp_path / "old-signer.pem"
    old_cert.write_bytes(_pem(office.config))
    rotated = replace(new.config, trust_file=str(old_cert))
    assert check_letter(signed, installation_certificates(rotated)).valid


def _pem(config: SigningConfig) -> bytes:
    from asn1crypto.pem import armor

    cert = load_signer(config).signing_cert
    assert cert is not None
    return bytes(armor("CERTIFICATE", cert.dump()))


# ---- the timestamp authority and the HSM --------------------------------------------------------


def test_with_a_timestamp_authority_letters_are_pades_b_t(
    office: Identity, unsigned: bytes, tsa: TimestampAuthority
) -> None:
    config = replace(office.config, tsa_url=tsa.url)
    signed = sign_letter(config, unsigned).pdf
    assert tsa.requests
    untrusted_tsa = check_letter(signed, installation_certificates(office.config))
    assert untrusted_tsa.timestamp is not None and untrusted_tsa.timestamp.intact
    assert not untrusted_tsa.timestamp.trusted and untrusted_tsa.valid  # the signer is what makes it valid
    trust = installation_certificates(office.config) + read_certificates(tsa.root_pem)
    check = check_letter(signed, trust)
    assert check.valid and check.timestamp is not None and check.timestamp.trusted
    assert check.timestamp.authority == tsa.name
    assert check.signed_at is not None and abs((check.timestamp.time - check.signed_at).total_seconds()) < 60
    assert archival_problems(signed) == []


def _identity_under_a_ca(folder: Path, valid_from: datetime, valid_to: datetime) -> tuple[SigningConfig, Path]:
    """A PKCS#12 identity whose certificate, issued by a CA of its own, was valid only between the two times; and
    the CA's certificate (PEM), which is what a partner trusts. (A certificate trusted itself is a trust anchor,
    whose dates a validator does not judge: the office's CA is what makes expiry count.)"""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = datetime.now(UTC)
    ca_key, key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Office CA"))
        .issuer_name(name("Office CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(key_usage("digital_signature", "key_cert_sign", "crl_sign"), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("Expired signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage("digital_signature", "content_commitment"), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "signer.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(b"x", key, cert, [ca], serialization.BestAvailableEncryption(b"pw"))
    )
    (folder / "signer.pass").write_text("pw\n")
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return SigningConfig(key=str(folder / "signer.p12"), passphrase_file=str(folder / "signer.pass")), folder / "ca.pem"


def test_a_timestamped_letter_stays_valid_after_its_certificate_expires(unsigned: bytes, tmp_path: Path) -> None:
    """The README's promise when a certificate runs out: a letter timestamped while its certificate was valid stays
    valid, judged at the timestamp's time; the same letter without a timestamp is judged now, and is not."""
    now = datetime.now(UTC)
    then = now - timedelta(days=2)
    expired, ca_pem = _identity_under_a_ca(tmp_path / "id", now - timedelta(days=3), now - timedelta(days=1))
    with timestamp_authority(tmp_path / "tsa", fixed_time=then) as tsa:
        stamped = sign_letter(replace(expired, tsa_url=tsa.url), unsigned, when=then).pdf
    trust = read_certificates(ca_pem) + read_certificates(tsa.root_pem)
    check = check_letter(stamped, trust)
    assert check.valid and check.trusted and check.timestamp is not None and check.timestamp.trusted, check
    assert abs(check.timestamp.time - then) < timedelta(seconds=1)
    unstamped = check_letter(sign_letter(expired, unsigned, when=then).pdf, trust)
    assert not unstamped.valid and not unstamped.trusted, unstamped


def test_an_unreachable_timestamp_authority_is_an_error_that_may_heal(office: Identity, unsigned: bytes) -> None:
    from activities.signing.identity import SigningUnavailable

    with pytest.raises(SigningUnavailable):
        sign_letter(replace(office.config, tsa_url="http://127.0.0.1:9/"), unsigned)


def test_signing_with_a_softhsm2_token(office: Identity, unsigned: bytes, tmp_path: Path) -> None:
    with softhsm_token(tmp_path / "hsm", office.p12, office.passphrase) as token:
        config = SigningConfig(key=token.uri, pkcs11_module=token.module)
        signed = sign_letter(config, unsigned)
        assert signed.signer == DEV_SIGNER_NAME
        check = check_letter(signed.pdf, installation_certificates(config))
        assert check.valid and check.covers_whole_file, check.reason
        assert archival_problems(signed.pdf) == []
        with pytest.raises(SigningError, match="cannot sign"):
            load_signer(SigningConfig(key=f"{token.uri.partition('?')[0]}?pin-value=0000", pkcs11_module=token.module))


def test_the_pkcs11_uri_is_read_as_rfc_7512_says(tmp_path: Path) -> None:
    pin = tmp_path / "pin"
    pin.write_text("4321\n")
    parsed = parse_pkcs11_uri(f"pkcs11:token=Office%20HSM;object=letter-signer;id=%01%02?pin-source=file:{pin}")
    assert (parsed.token, parsed.label, parsed.id, parsed.pin) == ("Office HSM", "letter-signer", b"\x01\x02", "4321")
    with pytest.raises(SigningError):
        parse_pkcs11_uri("pkcs11:token")


def test_a_wrong_passphrase_or_a_missing_key_is_a_sentence(office: Identity, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("nope")
    with pytest.raises(SigningError, match="does not open"):
        load_signer(replace(office.config, passphrase_file=str(wrong)))
    with pytest.raises(SigningError, match="cannot read the signing key"):
        load_signer(SigningConfig(key=str(tmp_path / "none.p12")))


def test_the_development_identity_is_private_and_says_what_it_is(office: Identity) -> None:
    assert office.p12.stat().st_mode & 0o777 == 0o600 and office.passphrase.stat().st_mode & 0o777 == 0o600
    cert = load_signer(office.config).signing_cert
    assert cert is not None and cert.subject.native["common_name"] == DEV_SIGNER_NAME
    assert DEV_SIGNER_NAME == "Offerdesk development signer, not for real letters"
    assert not make_dev_identity(office.p12, office.passphrase)  # made once, never replaced


def test_a_signer_named_beyond_ascii_is_drawn_in_the_appearance(unsigned: bytes, tmp_path: Path) -> None:
    named = _identity(tmp_path, name="Žofia Đặng, Ελένη Παππά")
    signed = sign_letter(named.config, unsigned)
    assert signed.signer == "Žofia Đặng, Ελένη Παππά"
    with pikepdf.open(io.BytesIO(signed.pdf)) as doc:
        [widget] = [a for a in doc.pages[-1].Annots if str(a.get("/T")) == FIELD_NAME]
        assert "Žofia Đặng, Ελένη Παππά" in str(widget.Contents)
        font = next(iter(widget.AP.N.Resources.Font.values()))
        cmap = font.ToUnicode.read_bytes().decode("latin-1")
        for char in "ŽĐặΕλ":  # every character of the name has a glyph, mapped back to its text
            assert f"{ord(char):04x}" in cmap.lower(), char
    assert check_letter(signed.pdf, installation_certificates(named.config)).valid


def test_too_little_room_kept_for_the_signature_is_estimated_anew(office: Identity, unsigned: bytes) -> None:
    from activities.signing import sign

    sign_letter(office.config, unsigned)
    sign._RESERVED[office.config] = 64  # as if a timestamp token had grown since the process estimated
    assert check_letter(sign_letter(office.config, unsigned).pdf, installation_certificates(office.config)).valid
    assert sign._RESERVED[office.config] > 64
