"""Telling people: a notice becomes one inbox entry per person, and one e-mail per person with an address.

An offer posts a notice (the post_notice local activity): it goes into the outbox and everyone's inbox at once,
and the worker's postman (activities/postman.py) mails it. Offers from before the outbox run the notify activity,
which files and mails in one go, retried by Temporal. Both mail through `deliver`.

Exactly once per event and person, as far as SMTP allows: every person's entry is keyed by the notice's key
and their name. An entry is claimed (a lease) before its message is handed to the mail server and marked
mailed as soon as the server accepts it, so a retry, a second worker or a restarted one skips what went out.
The gap SMTP leaves open is the moment between the server's "250 accepted" and the mark: a worker that dies
exactly there sends that message again on its retry, with the same Message-ID, so mail clients can fold it.

Messages link to the portal and never carry the offer or its letter: both are confidential.

International addresses: a domain in another script goes as punycode, so any server takes it; a local part
beyond ASCII (grâce@…) needs SMTPUTF8, and a server that does not offer it cannot take the message, now or on a
retry: the entry says so and the activity fails without retrying (MAIL_UNDELIVERABLE).

The conversation with the mail server itself is activities/smtp.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTPUTF8
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import quote

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.metrics import mail_outcome
from activities.names import MAIL_UNAVAILABLE, MAIL_UNDELIVERABLE, NOTIFY, POST_NOTICE
from activities.smtp import TRANSIENT, Mailer, MailRefused, Undeliverable
from schemas.notice import Notice, NoticeKind, NoticeResult, Recipient
from schemas.validation import CATEGORY_TITLES, Category, CategoryStatus

if TYPE_CHECKING:
    import jinja2

MAIL_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "mail"
LEASE = timedelta(minutes=2)
"""How long one attempt holds a person's entry while it talks to the mail server, so two deliveries of one
notice never send the same message at once. A later attempt of the same delivery takes the entry over at once:
Temporal starts it only once the earlier one stopped heartbeating (its worker died) or failed."""
HEARTBEAT_EVERY_S = 2.0

Claim = Literal["claimed", "done", "busy"]

NO_MAIL_SERVER = "no mail server is configured (OFFERDESK_SMTP_URL)"
NO_ADDRESS = "no e-mail address on file"
REMINDERS_OFF = "reminders are turned off"
PORTAL_ONLY = frozenset({NO_MAIL_SERVER, NO_ADDRESS, REMINDERS_OFF})
"""Why an entry is on the portal only by choice or configuration: not mail that failed."""


@dataclass(frozen=True)
class Holder:
    """Who claims an entry: one delivery of a notice (the activity) and its attempt number."""

    delivery: str
    attempt: int


@dataclass(frozen=True)
class Posted:
    """A notice in the outbox as the postman finds it: posted when, and tried how often."""

    key: str
    notice: Notice
    created_at: datetime
    attempts: int


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    link: str


class Postbox(Protocol):
    """Where notices are filed and who hears them: the portal's accounts database, in this installation."""

    def post(self, notice: Notice) -> bool:
        """Put the notice in the outbox for the postman (activities/postman.py) to mail; False if it was there
        already (posting twice changes nothing)."""
        ...

    def recipients(self, notice: Notice) -> list[Recipient]:
        """Everyone in the notice's audience, less those it excludes."""
        ...

    def file(self, entry_key: str, user: str, notice: Notice, message: Message) -> None:
        """Put the entry in the user's inbox, once: a second call with the same key changes nothing."""
        ...

    def claim(self, entry_key: str, until: datetime, holder: Holder) -> Claim:
        """Take the entry for mailing until `until`: "done" if it was mailed or refused for good, "busy" if another
        delivery (or an attempt of this one no older than `holder`'s) holds it."""
        ...

    def mailed(self, entry_key: str) -> None: ...

    def not_mailed(self, entry_key: str, reason: str) -> None:
        """Say why this entry is on the portal only (no address, reminders off, no mail server)."""
        ...

    def mail_failed(self, entry_key: str, error: str, final: bool) -> None:
        """Release the entry with the server's answer; `final` when retrying will not help (a 5xx)."""
        ...

    # The outbox, which the postman (activities/postman.py) works through: one row a notice, `holder` a postman.

    def due(self, at: datetime, limit: int) -> list[Posted]:
        """Up to `limit` notices not done, due by `at` and held by no postman, the longest waiting first."""
        ...

    def take(self, key: str, until: datetime, holder: str) -> int | None:
        """Hold the notice for sending until `until`, in one conditional update (two postmen never both hold it):
        the number of this attempt, or None if it is held, done or not due."""
        ...

    def hold(self, key: str, until: datetime, holder: str) -> bool:
        """Keep holding it while its send runs; False if `holder` no longer does."""
        ...

    def sent(self, key: str, holder: str) -> None: ...

    def retry_later(self, key: str, holder: str, at: datetime, error: str) -> None:
        """Let it go until `at`, saying why it failed."""
        ...

    def give_up(self, key: str, holder: str, error: str) -> None:
        """Done with it unsent: the error stays on the row, and each person's entry says why no mail came."""
        ...


# ---- composing ---------------------------------------------------------------------------------


_SUBJECTS: dict[NoticeKind, str] = {
    NoticeKind.DEFICIENT: "{name}'s offer in round {round} is deficient: amend it by {due}",
    NoticeKind.SENT_BACK: "A reviewer sent {name}'s offer in round {round} back for changes",
    NoticeKind.LAPSED: "{name}'s offer in round {round} has lapsed",
    NoticeKind.LETTER_READY: "The response letter for {name} in round {round} is ready",
    NoticeKind.IN_REVIEW: "{name}'s offer in round {round} is waiting for your review (until {due})",
    NoticeKind.AMENDED: "{name} amended its offer in round {round}: it is back in review (until {due})",
    NoticeKind.ESCALATED: "{name}'s offer in round {round} is escalated to staff",
    NoticeKind.LETTER_FAILED: "The letter for {name} in round {round} failed: it needs staff",
    NoticeKind.REMIND_SUBMIT: "Reminder: {name}'s offer in round {round} is due by {due}",
    NoticeKind.REMIND_REVIEW: "Reminder: {name}'s offer in round {round} awaits your review until {due}",
    NoticeKind.AWAITS_ANSWER: "Letter {letter} for {name} in round {round} is ready and awaits your answer by {due}",
    NoticeKind.REMIND_ANSWER: "Reminder: letter {letter} for {name} in round {round} awaits your answer by {due}",
    NoticeKind.REOPENED: "Letter {letter} for {name} in round {round} awaits your answer again, by {due}",
    NoticeKind.COUNTERED: "{name} countered letter {letter} in round {round}: review version {version} by {due}",
    NoticeKind.ACCEPTED: "{name} accepted letter {letter} in round {round}: the deal is agreed",
    NoticeKind.UNANSWERED: "Letter {letter} for {name} in round {round} went unanswered: it needs staff",
}


def when(moment: datetime | None) -> str:
    """A deadline as people read it in a mail: '2026-12-02 17:00 UTC'."""
    if moment is None:
        return "no deadline"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def offer_link(public_url: str, notice: Notice) -> str:
    base = public_url.rstrip("/")
    return f"{base}/rounds/{quote(notice.round_id)}/offers/{quote(notice.partner)}"


@cache
def _templates() -> jinja2.Environment:
    # Imported when the first notice is composed: the workflow imports this module for NotifyActivities.
    from activities.templates import template_environment

    env = template_environment(MAIL_TEMPLATES, escape_only=("html.j2",))
    env.filters["when"] = when
    return env


def compose(notice: Notice, recipient: Recipient, public_url: str) -> Message:
    """The subject, plain text and HTML of one notice to one person; pure, so it is tested directly."""
    subject = _SUBJECTS[notice.kind].format(
        name=notice.partner_name,
        round=notice.round_id,
        due=when(notice.due),
        letter=notice.letter,
        version=notice.version,
    )
    link = offer_link(public_url, notice)
    by_category: dict[str, list[str]] = {}
    for f in notice.findings:
        title = CATEGORY_TITLES[f.category] if f.category is not None else "The document"
        by_category.setdefault(title, []).append(f"{f.path}: {f.message}")
    context: dict[str, Any] = {
        "n": notice,
        "kind": notice.kind.value,
        "recipient": recipient,
        "link": link,
        "subject": subject,
        "notifications": public_url.rstrip("/") + "/notifications",
        "categories": [
            (CATEGORY_TITLES[c], s.value) for c, s in notice.categories.items() if s is not CategoryStatus.MET
        ],
        "findings": by_category,
        "more": max(0, notice.error_count - len(notice.findings)),
        "all_categories": len(Category),
    }
    env = _templates()
    return Message(
        subject=subject,
        text=env.get_template("notice.txt.j2").render(context),
        html=env.get_template("notice.html.j2").render(context),
        link=link,
    )


def message_id(entry_key: str, sender: str) -> str:
    """The same Message-ID for every attempt at one entry, so a message the gap sends twice folds into one."""
    domain = sender.rpartition("@")[2].strip("> ") or "offerdesk.invalid"
    return f"<{hashlib.sha256(entry_key.encode()).hexdigest()[:40]}@{domain}>"


@dataclass(frozen=True)
class MailAddress:
    """An address as it goes into a mail: the domain in punycode when the local part is ASCII, so that any server
    takes it; in Unicode otherwise, for a server that offers SMTPUTF8."""

    local: str
    domain: str

    @property
    def international(self) -> bool:
        return not self.local.isascii()


def mail_address(address: str) -> MailAddress:
    """The address of `address` for the envelope and the To header; Undeliverable if it cannot be written in a mail
    at all (an address stored before the portal checked them)."""
    if address.isascii():
        local, _, domain = address.rpartition("@")
        if not local or not domain:
            raise Undeliverable(f"the address cannot be written in a mail: {address!r} has no local part and domain")
        return MailAddress(local, domain)
    from email_validator import EmailNotValidError, validate_email  # only for the rare address beyond ASCII

    try:
        valid = validate_email(address, check_deliverability=False, globally_deliverable=False, test_environment=True)
    except EmailNotValidError as e:
        raise Undeliverable(f"the address cannot be written in a mail: {e}") from None
    if valid.ascii_email is not None:
        return MailAddress(valid.local_part, valid.ascii_domain)
    return MailAddress(valid.local_part, valid.domain)


def email_message(notice: Notice, message: Message, sender: str, to: Recipient, entry_key: str) -> EmailMessage:
    """Plain text with an HTML alternative, and nothing attached; headers a mail filter can sort by.

    An international address (a local part beyond ASCII) is written as it is, in UTF-8 (RFC 6532), which only
    a server offering SMTPUTF8 accepts; the message says so in its policy.
    """
    assert to.email is not None
    address = mail_address(to.email)
    mail = EmailMessage(policy=SMTPUTF8) if address.international else EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    try:
        mail["To"] = Address(to.name, address.local, address.domain)
    except ValueError as e:  # no retry writes it either
        raise Undeliverable(f"the address cannot be written in a mail: {e}") from None
    mail["Date"] = format_datetime(notice.at.astimezone(UTC))
    mail["Message-ID"] = message_id(entry_key, sender)
    mail["X-Offerdesk-Notice"] = entry_key
    mail["X-Offerdesk-Kind"] = notice.kind.value
    mail["X-Offerdesk-Round"] = notice.round_id
    mail["X-Offerdesk-Partner"] = notice.partner
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


# ---- the activity -------------------------------------------------------------------------------


class NotifyActivities:
    """The notify activity (offers from before the outbox) and the post_notice local activity, with their
    dependencies: the postbox, the mailer (None: the portal inbox only). `deliver` is both's mailing."""

    def __init__(self, postbox: Postbox, mailer: Mailer | None, public_url: str) -> None:
        self._postbox = postbox
        self._mailer = mailer
        self._public_url = public_url
        self._posted: Callable[[], None] = lambda: None

    @activity.defn(name=NOTIFY)
    async def notify(self, notice: Notice) -> NoticeResult:
        """File the notice for everyone in its audience, then mail those who should get it and have not.

        The SMTP conversation runs in a thread while this heartbeats, so a worker that dies mid-send is known
        within the heartbeat timeout, however slow the mail server is.
        """
        info = activity.info()
        holder = Holder(f"{info.workflow_run_id}/{info.activity_id}", info.attempt)
        sending = asyncio.ensure_future(asyncio.to_thread(self.deliver, notice, holder))
        while not (await asyncio.wait({sending}, timeout=HEARTBEAT_EVERY_S))[0]:
            activity.heartbeat()
        return sending.result()

    @activity.defn(name=POST_NOTICE)
    def post(self, notice: Notice) -> None:
        """The local activity of a notice: into the outbox, and into everyone's inbox, once however often it runs;
        milliseconds, no SMTP. The worker's postman mails it (and is woken at once, in this process)."""
        self._postbox.post(notice)
        self._file(notice)
        self._posted()

    def local(self) -> list[Callable[..., Any]]:
        """The activities the workflow runs as local activities, on its own worker (the main task queue)."""
        return [self.post]

    def when_posted(self, call: Callable[[], None]) -> None:
        """Call `call` (from the activity's thread) after each notice posted here: the postman's wake-up."""
        self._posted = call

    def _file(self, notice: Notice) -> tuple[NoticeResult, list[tuple[str, Recipient, Message]]]:
        """Every person's entry filed (those not to be mailed saying why); the entries to mail."""
        result = NoticeResult()
        postbox, mailer = self._postbox, self._mailer
        outgoing: list[tuple[str, Recipient, Message]] = []
        for person in postbox.recipients(notice):
            key = f"{notice.key}/{person.name.lower()}"
            message = compose(notice, person, self._public_url)
            postbox.file(key, person.name, notice, message)
            result.filed += 1
            why_not = _why_not_mailed(mailer, person, notice)
            if why_not is not None:
                postbox.not_mailed(key, why_not)
                result.not_mailed += 1
            else:
                outgoing.append((key, person, message))
        return result, outgoing

    def deliver(self, notice: Notice, holder: Holder = Holder("", 1)) -> NoticeResult:
        """File the notice and mail whoever has not been mailed it yet; the notify activity's and the postman's."""
        result, outgoing = self._file(notice)
        if not outgoing:
            return result
        postbox, mailer = self._postbox, self._mailer
        assert mailer is not None
        transient: list[str] = []
        undeliverable: list[str] = []
        smtp: smtplib.SMTP | None = None
        try:
            for key, person, message in outgoing:
                claim = postbox.claim(key, datetime.now(UTC) + LEASE, holder)
                if claim == "done":
                    result.already_mailed += 1
                    continue
                if claim == "busy":
                    transient.append(f"{person.name}: another attempt is sending it")
                    continue
                try:
                    mail = email_message(notice, message, mailer.settings.sender, person, key)
                    if smtp is None:
                        smtp = mailer.connect()
                    mailer.send(smtp, mail)
                except MailRefused as e:
                    mail_outcome("refused")
                    postbox.mail_failed(key, str(e), final=True)
                    result.refused.append(f"{person.email}: {e}")
                    continue
                except Undeliverable as e:
                    mail_outcome("undeliverable")
                    postbox.mail_failed(key, str(e), final=True)
                    undeliverable.append(f"{person.name}: {e}")
                    continue
                except TRANSIENT as e:
                    mail_outcome("unavailable")
                    reason = f"{type(e).__name__}: {e}"
                    postbox.mail_failed(key, reason, final=False)
                    transient.append(f"{person.name}: {reason}")
                    _drop(smtp)
                    smtp = None
                    continue
                mail_outcome("sent")
                postbox.mailed(key)
                result.mailed += 1
        finally:
            _drop(smtp)
        if transient:
            # Those mailed are marked; the retry sends only the rest.
            raise ApplicationError(
                f"the mail server did not take {len(transient)} of {len(outgoing)} messages for {notice.key}: "
                + "; ".join(transient),
                type=MAIL_UNAVAILABLE,
            )
        if undeliverable:
            # The others are mailed and every entry says what became of it; a retry would only fail the same way.
            raise ApplicationError(
                f"{len(undeliverable)} of {len(outgoing)} messages for {notice.key} cannot be sent: "
                + "; ".join(undeliverable),
                type=MAIL_UNDELIVERABLE,
                non_retryable=True,
            )
        return result

    def all(self) -> list[Callable[..., Any]]:
        return [self.notify]


def _why_not_mailed(mailer: Mailer | None, person: Recipient, notice: Notice) -> str | None:
    if mailer is None:
        return NO_MAIL_SERVER
    if not person.email:
        return NO_ADDRESS
    if notice.kind.reminder and not person.reminders:
        return REMINDERS_OFF
    return None


def _drop(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except TRANSIENT:
        smtp.close()
