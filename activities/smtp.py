"""Talking to the mail server: the OFFERDESK_SMTP_URL read, one connection a batch (STARTTLS when offered, a login
when the URL has one), and the server's answers sorted into what a retry heals and what it never will.

Apart from notify.py, which composes and files notices and decides who is mailed: this is only the wire.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

SMTP_TIMEOUT_S = 20.0
NO_SMTPUTF8 = "the mail server does not accept international addresses (SMTPUTF8)"


class Undeliverable(Exception):
    """This message cannot go to its address through this mail server, now or on any retry; says why, briefly."""


class MailConfigError(ValueError):
    """OFFERDESK_SMTP_URL or OFFERDESK_MAIL_FROM cannot be used; the message says how to write it."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool
    user: str | None
    password: str | None
    sender: str

    @classmethod
    def from_url(cls, url: str, sender: str) -> SmtpSettings:
        """smtp://[user:password@]host[:port] (STARTTLS when offered) or smtps://... (TLS from the start)."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MailConfigError(
                f"OFFERDESK_SMTP_URL is smtp://[user:password@]host[:port] or smtps://...; not {url!r}"
            )
        try:
            port = parts.port
        except ValueError:
            raise MailConfigError(f"OFFERDESK_SMTP_URL has a port that is not a number: {url!r}") from None
        if "@" not in sender:
            raise MailConfigError(f"OFFERDESK_MAIL_FROM is an address such as offerdesk@example.org; not {sender!r}")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit else 25),
            implicit_tls=implicit,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            sender=sender,
        )


class MailRefused(Exception):
    """The server refused this message for good (a 5xx): retrying will not deliver it."""


def international(mail: EmailMessage) -> bool:
    """Whether the message needs SMTPUTF8: an address of its envelope (From, To) has a local part beyond ASCII."""
    return any(not a.username.isascii() for field in ("From", "To") for a in mail[field].addresses)


class Mailer:
    """One SMTP connection per notice: STARTTLS when the server offers it, a login when the URL has one."""

    def __init__(self, settings: SmtpSettings, tls: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._tls = tls or ssl.create_default_context()

    def connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP
        if s.implicit_tls:
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=SMTP_TIMEOUT_S, context=self._tls)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=SMTP_TIMEOUT_S)
        try:
            smtp.ehlo()
            if not s.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls(context=self._tls)
                smtp.ehlo()
            if s.user is not None:
                smtp.login(s.user, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    @staticmethod
    def send(smtp: smtplib.SMTP, mail: EmailMessage) -> None:
        """Hand one message over; MailRefused for a permanent refusal, Undeliverable for an international address
        and a server without SMTPUTF8, the SMTP error otherwise.

        For an international message smtplib itself asks for SMTPUTF8 (and BODY=8BITMIME) in MAIL FROM and writes
        the headers in UTF-8; it is checked here first, so that the refusal is ours and said plainly.
        """
        if international(mail) and not smtp.has_extn("smtputf8"):
            raise Undeliverable(NO_SMTPUTF8)
        try:
            refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            if all(code >= 500 for code in codes):
                raise MailRefused(_answer(e.recipients)) from None
            raise
        except smtplib.SMTPResponseException as e:
            if e.smtp_code >= 500 and not isinstance(e, smtplib.SMTPSenderRefused):
                raise MailRefused(f"{e.smtp_code} {_text(e.smtp_error)}") from None
            raise
        if refused:  # one recipient per message, so this is not reached; kept for safety
            raise MailRefused(_answer(refused))


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def _answer(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in refused.items())


TRANSIENT = (OSError, smtplib.SMTPException, socket.timeout)
