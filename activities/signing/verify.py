"""Checking a letter: is it signed, unchanged since, and by a certificate we trust? For `offerdesk letter verify`
and the portal's Check a letter.

pyHanko's validator does the work, against a ValidationContext whose trust roots are the given certificates (by
default the installation's own: identity.installation_certificates), nothing fetched from the network. When the
signature carries a trusted timestamp, a signer whose certificate has expired since is judged at the timestamp's
time, so letters stay valid after their certificate's end.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import EmbeddedPdfSignature, validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from activities.signing.identity import certificate_names
from schemas.letter import LetterCheck, LetterTimestamp

# pyHanko logs every untrusted certificate with a traceback; the check says it in a sentence instead.
logging.getLogger("pyhanko.sign.validation").setLevel(logging.CRITICAL)
logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)


class UnreadableLetter(Exception):
    """The file is not a PDF at all (a PDF that cannot be read is a damaged letter: not valid)."""


def _context(trust: Sequence[asn1_x509.Certificate], moment: datetime | None = None) -> ValidationContext:
    return ValidationContext(
        trust_roots=list(trust),
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=moment,
        retroactive_revinfo=moment is not None,
    )


def _validate(
    sig: EmbeddedPdfSignature, trust: Sequence[asn1_x509.Certificate], moment: datetime | None
) -> PdfSignatureStatus:
    return validate_pdf_signature(sig, _context(trust, moment), ts_validation_context=_context(trust, moment))


def check_letter(data: bytes, trust: Sequence[asn1_x509.Certificate]) -> LetterCheck:
    """What the letter's signature says, judged against `trust`; UnreadableLetter if the file is not a PDF at all.

    Synchronous, and runs an event loop of its own (pyHanko's validator): call it from a thread in async code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no event loop in this thread, as it must be
    else:
        raise RuntimeError("check_letter runs an event loop of its own: call it from a thread")
    if b"%PDF-" not in data[:1024]:
        raise UnreadableLetter("the file is not a PDF")
    try:
        signatures = PdfFileReader(io.BytesIO(data), strict=False).embedded_regular_signatures
    except Exception as e:  # pyHanko's reader raises PdfReadError, and on some damage whatever the damage causes
        return _not_valid(f"the PDF is damaged ({type(e).__name__}): it was changed after it was signed, or cut short")
    if not signatures:
        return _not_valid("the letter is not signed: not a letter as Offerdesk issues it, or its signature was removed")
    try:
        status = _validate(signatures[0], trust, None)
        stamp = status.timestamp_validity
        if not status.trusted and stamp is not None and stamp.intact and stamp.valid and stamp.trusted:
            status = _validate(signatures[0], trust, stamp.timestamp)  # judged when it was signed
    except Exception as e:  # a damaged signature container
        return _not_valid(f"the letter's signature cannot be read ({type(e).__name__}): the file was changed")
    return _judged(status, extra=len(signatures) - 1)


def _not_valid(reason: str) -> LetterCheck:
    return LetterCheck(valid=False, reason=reason)  # nothing else was found


def _judged(status: PdfSignatureStatus, extra: int) -> LetterCheck:
    office, signer = certificate_names(status.signing_cert)
    stamp = status.timestamp_validity
    timestamp = None
    if stamp is not None:
        timestamp = LetterTimestamp(
            time=stamp.timestamp,
            authority=certificate_names(stamp.signing_cert)[1],
            intact=bool(stamp.intact and stamp.valid),
            trusted=bool(stamp.trusted),
        )
    intact = bool(status.intact and status.valid)
    whole = intact and status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    trusted = bool(status.trusted)
    if not intact:
        reason = "the letter was changed after it was signed: its bytes no longer match the signature"
    elif not whole:
        more = f" ({extra} more signature{'s' if extra > 1 else ''})" if extra else ""
        reason = f"something was added to the letter after it was signed{more}: the signature covers only part of it"
    elif timestamp is not None and not timestamp.intact:
        reason = "the letter's timestamp does not match its signature"
    elif not trusted:
        reason = (
            f"the letter is unchanged since it was signed, but its signer ({signer}, {office}) is not one of the "
            "trusted certificates"
        )
    else:
        reason = f"signed for {office} by {signer}, unchanged since, and the signer is trusted"
    return LetterCheck(
        valid=whole and trusted and (timestamp is None or timestamp.intact),
        signer=signer,
        signed_at=status.signer_reported_dt,
        timestamp=timestamp,
        covers_whole_file=whole,
        trusted=trusted,
        reason=reason,
    )
