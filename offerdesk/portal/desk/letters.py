"""Checking a letter for anyone signed in: its signature against the installation's certificates, each check in
the audit log (who checked which file, and what the check found)."""

from __future__ import annotations

import asyncio
from typing import Any

from activities.signing.identity import SigningError, installation_certificates
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


_trust: tuple[Any, ...] = ()


def installation_trust() -> tuple[Any, ...]:
    """The certificates letters are checked against: the installation's own (its signing certificate, the chain
    it comes with, OFFERDESK_SIGNING_TRUST), kept once read; none while this host has no identity, asked again at
    the next check (a token that did not answer, or an identity made after the portal started)."""
    global _trust
    if not _trust:
        try:
            _trust = tuple(installation_certificates(Settings.from_env().signing()))
        except (SigningError, ValueError):
            return ()
    return _trust


def office_certificate() -> bytes | None:
    """The signing certificate (PEM) partners import to check letters in a PDF reader; None if this host has none."""
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
