"""Checking a letter for anyone signed in: its signature against the installation's certificates, each check in
the audit log (who checked which file, and what the check found)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

from activities.signing.identity import SigningError, installation_trust_of
from offerdesk.config import Settings
from offerdesk.people.principal import Principal
from offerdesk.portal.desk.base import DeskBase
from offers.documents import UnusableInputError
from schemas.letter import LetterCheck

MAX_LETTER_BYTES = 64 * 1024 * 1024
"""The largest letter the portal checks: a full national schedule's letter, its attachments included, is a few MiB."""
NO_CERTIFICATE = (
    "; this portal has no signing certificate to check the signer against (OFFERDESK_SIGNING_KEY, "
    "OFFERDESK_SIGNING_TRUST): use 'offerdesk letter verify --trust CERT.pem'"
)


TRUST_RETRY_S = 60.0
"""How often a portal whose signing identity did not open asks again (a token that did not answer, an identity
made after it started): seldom, since each try may be a login to an HSM."""


@dataclass
class _Trust:
    certificates: tuple[Any, ...] = ()
    complete: bool = False
    """The identity opened: its certificate is among them, and nothing will change until the portal restarts."""
    next_try: float = 0.0


_TRUST = _Trust()
_TRUST_LOCK = threading.Lock()


def installation_trust() -> tuple[Any, ...]:
    """The certificates letters are checked against: the installation's own (its signing certificate, the chain
    it comes with, OFFERDESK_SIGNING_TRUST). Kept for good once the identity has opened; until then, what
    OFFERDESK_SIGNING_TRUST holds (a host that only checks letters has no key), asked again at most every
    TRUST_RETRY_S. Blocking (it may open a file or a token): called from threads."""
    with _TRUST_LOCK:
        if _TRUST.complete or time.monotonic() < _TRUST.next_try:
            return _TRUST.certificates
        _TRUST.next_try = time.monotonic() + TRUST_RETRY_S
        try:
            config = Settings.from_env().signing()
        except ValueError:
            return _TRUST.certificates
        try:
            certificates, opened = installation_trust_of(config)
        except SigningError:  # no identity here (yet), and no trust file
            certificates, opened = [], False
        _TRUST.certificates, _TRUST.complete = tuple(certificates), opened
        return _TRUST.certificates


def office_certificate() -> bytes | None:
    """The signing certificate (PEM) partners import to check letters in a PDF reader; None if this host has none.
    On a host with no key, the first certificate of OFFERDESK_SIGNING_TRUST (the README: the office's current one
    first)."""
    from asn1crypto.pem import armor

    trust = installation_trust()
    return bytes(armor("CERTIFICATE", trust[0].dump())) if trust else None


def _check(data: bytes) -> LetterCheck:
    from activities.signing.verify import UnreadableLetter, check_letter  # pyHanko: when a letter is checked

    trust = installation_trust()
    try:
        check = check_letter(data, trust)
    except UnreadableLetter as e:
        raise UnusableInputError(f"{e}: choose the letter's PDF file") from None
    if not trust and check.covers_whole_file:
        check = check.model_copy(update={"reason": check.reason + NO_CERTIFICATE})
    return check


class LetterCheckDesk(DeskBase):
    async def check_letter(self, who: Principal, data: bytes, filename: str) -> LetterCheck:
        """What `data`'s signature says; an empty or oversized upload, or a file that is no PDF, is refused (422)."""
        if not data:
            raise UnusableInputError("the uploaded file is empty: choose the letter's PDF file")
        if len(data) > MAX_LETTER_BYTES:
            raise UnusableInputError(f"the file is over {MAX_LETTER_BYTES >> 20} MiB: no letter is that large")

        async def work() -> LetterCheck:
            return await asyncio.to_thread(_check, data)

        return await self._audited(
            who,
            None,
            work,
            what="check a letter",
            detail=lambda c: f"{filename[:100]}: {'valid' if c.valid else 'not valid'}, {c.reason}",
        )
