"""A real SMTP server for the tests (aiosmtpd), keeping what it accepts, and able to stall mid-conversation."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class Mailbox:
    """The aiosmtpd handler: every message the server accepted, parsed, with its envelope (sender, recipients, MAIL
    FROM options); `stall` holds RCPT until cleared."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str], list[str]]] = []
        self.stall = threading.Event()
        self.stalled = threading.Event()
        self._lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        while self.stall.is_set():  # a conversation stuck before the message is handed over
            self.stalled.set()
            await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if envelope.smtp_utf8:  # RFC 6532: the headers are UTF-8
            message = message_from_string(envelope.content.decode(), policy=policy.default)
        else:
            message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), list(envelope.mail_options)))
        return "250 Message accepted for delivery"

    def received(self) -> list[EmailMessage]:
        with self._lock:
            return list(self.messages)

    def events(self) -> list[tuple[str, str, str]]:
        """(address, kind, partner) of every message, from the headers Offerdesk sets."""
        return sorted(
            (m["To"].addresses[0].addr_spec, m["X-Offerdesk-Kind"], m["X-Offerdesk-Partner"]) for m in self.received()
        )

    async def settles_on(self, expected: list[tuple[str, str, str]], timeout: float = 30) -> list[tuple[str, str, str]]:
        """Wait for as many messages as `expected` holds, then a moment for any sent twice; the events then."""
        await eventually(lambda: len(self.received()) >= len(expected), timeout, "all notices mailed")
        await asyncio.sleep(1.5)  # anything sent twice would arrive by now
        return self.events()


@contextmanager
def smtp_server(port: int, smtputf8: bool = False) -> Iterator[Mailbox]:
    """A server on `port`; `smtputf8` offers SMTPUTF8 (international addresses), which aiosmtpd does not by default."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    try:
        yield mailbox
    finally:
        mailbox.stall.clear()
        controller.stop()


async def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait until `check()` holds, polling; fail naming `what` if it does not within `timeout` seconds."""
    give_up = time.monotonic() + timeout
    while not check():
        if time.monotonic() > give_up:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(0.1)
