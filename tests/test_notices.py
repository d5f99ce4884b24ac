"""Issue 14: people hear when something waits on them, once, through a real SMTP server the tests start."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import ssl
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from temporalio.testing import WorkflowEnvironment

from activities.notify import Holder, Message, compose, email_message, message_id
from activities.smtp import Mailer, SmtpSettings
from activities.store import Kind
from offerdesk.config import Settings
from offerdesk.devserver import free_port
from offerdesk.engine import Engine
from offerdesk.people import open_people
from offerdesk.people.users import Users
from offerdesk.samples import sample_offer
from offerdesk.worker import worker_for
from schemas.answer import Accept, Reopen
from schemas.notice import NoticeKind, Recipient
from schemas.offer_state import OfferState
from schemas.portal import Role
from schemas.review import Approve, RequestChanges
from schemas.round import RoundSpec
from schemas.validation import CATEGORY_TITLES, Category, CategoryStatus, Finding, Severity
from tests.commands import OFFERDESK
from tests.conftest import round_spec, submitted_and_approved, worker_running
from tests.notices import a_notice
from tests.smtpserver import Mailbox, eventually, smtp_server

PUBLIC = "http://portal.example.org/"
PASSWORD = "correct horse battery"
ADA = Approve(reviewer="ada", version=1)
GRACE = Approve(reviewer="grace", version=1)
WAIT = timedelta(seconds=60)


REVIEWER_ADDRESSES = ["ada@trade.example.org", "grace@trade.example.org", "rex@trade.example.org"]


def _settings(settings: Settings, home: Path, smtp_port: int, database: str) -> Settings:
    """An installation of the test's own: its home and store, its people's records, the test's mail server."""
    return replace(
        settings,
        home=home,
        database_url=database,
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        mail_from="Offerdesk <offerdesk@trade.example.org>",
        public_url=PUBLIC,
    )


def _people(local: Settings, partners: list[str]) -> Users:
    """A negotiator with an address per partner, one without for JP, three reviewers and one staff member."""
    accounts = open_people(local.database).users
    for code in partners:
        accounts.add(f"neg-{code.lower()}", Role.NEGOTIATOR, PASSWORD, code, f"neg-{code.lower()}@partner.example")
    accounts.add("neg-jp-quiet", Role.NEGOTIATOR, PASSWORD, "JP")  # no address: the portal inbox only
    for name in ("ada", "grace", "rex"):
        accounts.add(name, Role.REVIEWER, PASSWORD, email=f"{name}@trade.example.org")
    accounts.add("sam", Role.STAFF, PASSWORD, email="sam@trade.example.org")
    return accounts


def _engine(env: WorkflowEnvironment, local: Settings, queue: str) -> Engine:
    return Engine(env.client, local.store(), task_queue=queue)


@dataclass(frozen=True)
class MailDesk:
    """An installation of a test's own with its people and a port for its mail server: settings, queue, engine."""

    port: int
    local: Settings
    accounts: Users
    queue: str
    engine: Engine


def _mail_desk(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, database: str, partners: list[str], name: str
) -> MailDesk:
    port = free_port()
    local = _settings(settings, tmp_path, port, database)
    accounts = _people(local, partners)
    queue = f"{name}-{tmp_path.name}"
    return MailDesk(port, local, accounts, queue, _engine(env, local, queue))


# ---- composing: pure functions ----------------------------------------------------------------


def test_every_kind_of_notice_says_what_waits_and_links_to_the_offer() -> None:
    person = Recipient(name="ada", email="ada@example.org")
    for kind in NoticeKind:
        message = compose(a_notice(kind, note="the window closed"), person, PUBLIC)
        assert "Japan" in message.subject and "r1" in message.subject, kind
        assert message.link == "http://portal.example.org/rounds/r1/offers/JP"
        assert message.link in message.text and f'href="{message.link}"' in message.html, kind
        assert "Dear ada" in message.text and "{{" not in message.text + message.html, kind


def test_a_deficient_notice_lists_findings_per_category_and_escapes_them_in_html() -> None:
    findings = [
        Finding(category=Category.QUOTAS, severity=Severity.ERROR, path="quotas[0].volume", message="volume <b>0</b>"),
        Finding(category=None, severity=Severity.ERROR, path="(document)", message="the date is missing"),
    ]
    notice = a_notice(
        NoticeKind.DEFICIENT,
        categories={Category.QUOTAS: CategoryStatus.INVALID, Category.DIGITAL_TRADE: CategoryStatus.MET},
        error_count=5,
        findings=findings,
    )
    message = compose(notice, Recipient(name="neg", email=None), PUBLIC)
    assert "2026-11-25 17:00 UTC" in message.subject
    assert "Tariff-rate quotas: invalid" in message.text and "quotas[0].volume: volume <b>0</b>" in message.text
    assert CATEGORY_TITLES[Category.DIGITAL_TRADE] not in message.text  # categories that are met are not listed
    assert "and 3 more" in message.text
    assert "volume &lt;b&gt;0&lt;/b&gt;" in message.html and "<b>0</b>" not in message.html


def test_a_mail_has_text_and_html_no_attachment_and_a_stable_message_id() -> None:
    notice = a_notice(NoticeKind.LETTER_READY)
    person = Recipient(name="neg-jp", email="neg@partner.example")
    message = compose(notice, person, PUBLIC)
    mail = email_message(notice, message, "Offerdesk <od@trade.example.org>", person, notice.key + "/neg-jp")
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert list(mail.iter_attachments()) == []
    assert mail["Message-ID"] == message_id(notice.key + "/neg-jp", "od@trade.example.org")
    assert mail["Message-ID"].endswith("@trade.example.org>") and mail["X-Offerdesk-Kind"] == "letter_ready"


def test_smtp_urls_are_read_or_refused_with_the_form_to_use() -> None:
    s = SmtpSettings.from_url("smtps://mailer:p%40ss@mail.example.org", "od@example.org")
    assert (s.host, s.port, s.implicit_tls, s.user, s.password) == ("mail.example.org", 465, True, "mailer", "p@ss")
    assert SmtpSettings.from_url("smtp://127.0.0.1:2525", "od@example.org").port == 2525
    assert SmtpSettings.from_url("smtp://mail.example.org", "od@example.org").port == 25
    for bad in ("http://mail.example.org", "smtp://", "smtp://host:port"):
        with pytest.raises(ValueError, match="OFFERDESK_SMTP_URL"):
            SmtpSettings.from_url(bad, "od@example.org")
    with pytest.raises(ValueError, match="OFFERDESK_MAIL_FROM"):
        SmtpSettings.from_url("smtp://mail.example.org", "offerdesk")


def test_an_entry_is_claimed_by_one_delivery_and_taken_over_only_by_its_later_attempt(database: str) -> None:
    postbox = open_people(database).notices
    notice = a_notice(NoticeKind.IN_REVIEW)
    postbox.file("k/ada", "ada", notice, Message("s", "t", "h", "l"))
    postbox.file("k/ada", "ada", notice, Message("other", "t", "h", "l"))  # filed once
    assert [e.subject for e in postbox.inbox("ada")] == ["s"]
    until = datetime.now(UTC) + timedelta(minutes=2)
    first = Holder("run/1", 1)
    assert postbox.claim("k/ada", until, first) == "claimed"
    assert postbox.claim("k/ada", until, Holder("run-after-continue/1", 1)) == "busy"  # another delivery
    assert postbox.claim("k/ada", until, first) == "busy"  # not a later attempt
    assert postbox.claim("k/ada", until, Holder("run/1", 2)) == "claimed"  # Temporal gave attempt 1 up
    postbox.mailed("k/ada")
    assert postbox.claim("k/ada", until, Holder("run/1", 3)) == "done"
    assert postbox.claim("never-filed", until, first) == "done"


# ---- the real thing: dev server, worker, SMTP server --------------------------------------------


@pytest.mark.asyncio(loop_scope="session")
async def test_each_event_reaches_the_right_people_once(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec], database: str
) -> None:
    partners = ["JP", "VN", "CH", "KR"]
    desk = _mail_desk(env, settings, tmp_path, database, partners, "notices")
    port, local, queue, engine = desk.port, desk.local, desk.queue, desk.engine
    spec = round_spec(partners, deadline_in=timedelta(seconds=14), review_window=timedelta(seconds=7))
    spec = spec.model_copy(update={"remind_before": timedelta(0)})
    closing.append(spec)
    rid = spec.round_id
    with smtp_server(port) as mailbox, worker_for(env.client, local, render_workers=1, task_queue=queue) as worker:
        async with worker:
            await engine.open_round(spec)
            await engine.submit(sample_offer(rid, "VN", deficient=True), by="neg-vn")
            await engine.submit(sample_offer(rid, "JP"), by="neg-jp")
            await engine.submit(sample_offer(rid, "KR"), by="neg-kr")
            await engine.request_changes(
                rid, "JP", RequestChanges(reviewer="ada", version=1, note="More on quotas, please.")
            )
            await engine.submit(sample_offer(rid, "JP", seed=2), amend=True, by="neg-jp")
            await engine.approve(rid, "JP", ADA.model_copy(update={"version": 2}))  # the amended version
            await engine.approve(rid, "JP", GRACE.model_copy(update={"version": 2}))
            await engine.wait_for(rid, "JP", {OfferState.LETTER_ISSUED}, WAIT)
            await engine.wait_for(rid, "KR", {OfferState.ESCALATED}, WAIT)
            await engine.wait_for(rid, "CH", {OfferState.LAPSED}, WAIT)
            await engine.wait_for(rid, "VN", {OfferState.LAPSED}, WAIT)
            reviewers = REVIEWER_ADDRESSES
            expected = sorted(
                [
                    ("neg-vn@partner.example", "deficient", "VN"),
                    ("neg-vn@partner.example", "lapsed", "VN"),
                    ("neg-ch@partner.example", "lapsed", "CH"),
                    ("neg-jp@partner.example", "sent_back", "JP"),
                    ("neg-jp@partner.example", "awaits_answer", "JP"),
                    ("sam@trade.example.org", "escalated", "KR"),
                    *[(r, "in_review", "JP") for r in reviewers],
                    *[(r, "in_review", "KR") for r in reviewers],
                    *[(r, "amended", "JP") for r in reviewers],
                ]
            )
            mailed = await mailbox.settles_on(expected)
    assert mailed == expected
    by_kind = {
        (m["X-Offerdesk-Kind"], m["X-Offerdesk-Partner"], m["To"].addresses[0].username): m for m in mailbox.received()
    }
    sent_back = by_kind[("sent_back", "JP", "neg-jp")].get_body(("plain",))
    assert sent_back is not None and "More on quotas, please." in sent_back.get_content()
    deficient = by_kind[("deficient", "VN", "neg-vn")].get_body(("plain",))
    assert deficient is not None and "Findings:" in deficient.get_content()
    for message in mailbox.received():
        assert message["From"] == "Offerdesk <offerdesk@trade.example.org>"
        assert list(message.iter_attachments()) == []  # never the letter, never the offer
        body = message.get_body(("plain",))
        assert body is not None and f"{PUBLIC}rounds/{rid}/offers/" in body.get_content()
    assert len({m["Message-ID"] for m in mailbox.received()}) == len(expected)
    # Without an address, the notice is on the portal only; reviewers' conflicts and reminders are elsewhere.
    quiet = open_people(local.database).notices.inbox("neg-jp-quiet")
    assert sorted(e.kind.value for e in quiet) == ["awaits_answer", "sent_back"]
    assert all(e.mailed_at is None and e.link.startswith(PUBLIC) for e in quiet)
    assert {e.mail_error for e in quiet} == {"no e-mail address on file"}


@pytest.mark.asyncio(loop_scope="session")
async def test_the_partners_answers_are_told_once_each(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec], database: str
) -> None:
    """Issue 25: a letter awaiting an answer, the reminder before its window closes, a counter-offer, an acceptance,
    a letter unanswered and a reopening, each mailed once to whom it concerns."""
    desk = _mail_desk(env, settings, tmp_path, database, ["JP", "KR"], "answers")
    port, local, queue, engine = desk.port, desk.local, desk.queue, desk.engine
    answered = round_spec(["JP"]).model_copy(update={"remind_before": timedelta(0)})
    unanswered = round_spec(["KR"], approvals=1, respond_within=timedelta(seconds=6))
    unanswered = unanswered.model_copy(update={"remind_before": timedelta(seconds=3)})
    closing += [answered, unanswered]
    rid, other = answered.round_id, unanswered.round_id
    with smtp_server(port) as mailbox, worker_for(env.client, local, render_workers=1, task_queue=queue) as worker:
        async with worker:
            await engine.open_round(answered)
            await engine.open_round(unanswered)
            await engine.submit(sample_offer(other, "KR"), by="neg-kr")
            await engine.approve(other, "KR", ADA)
            await engine.submit(sample_offer(rid, "JP"), by="neg-jp")
            await engine.approve(rid, "JP", ADA)
            await engine.approve(rid, "JP", GRACE)
            await engine.wait_for(rid, "JP", {OfferState.LETTER_ISSUED}, WAIT)
            await engine.submit(sample_offer(rid, "JP", seed=2), amend=True, by="neg-jp")  # a counter-offer
            await engine.approve(rid, "JP", ADA.model_copy(update={"version": 2}))
            await engine.approve(rid, "JP", GRACE.model_copy(update={"version": 2}))
            await eventually(lambda: _mailed(mailbox, "awaits_answer", "JP") == 2, 60, "letter 2")
            await engine.accept(rid, "JP", Accept(by="neg-jp", letter=2))
            await engine.wait_for(other, "KR", {OfferState.UNANSWERED}, WAIT)
            reopen = Reopen(by="sam", respond_within=timedelta(minutes=5), reason="They asked for a week.")
            await engine.reopen(other, "KR", reopen)
            reviewers = REVIEWER_ADDRESSES
            expected = sorted(
                [
                    *[(r, "in_review", "JP") for r in reviewers],
                    ("neg-jp@partner.example", "awaits_answer", "JP"),  # letter 1
                    *[(r, "countered", "JP") for r in reviewers],
                    ("neg-jp@partner.example", "awaits_answer", "JP"),  # letter 2
                    ("sam@trade.example.org", "accepted", "JP"),
                    *[(r, "in_review", "KR") for r in reviewers],
                    ("neg-kr@partner.example", "awaits_answer", "KR"),
                    ("neg-kr@partner.example", "remind_answer", "KR"),
                    ("sam@trade.example.org", "unanswered", "KR"),
                    ("neg-kr@partner.example", "reopened", "KR"),
                ]
            )
            mailed = await mailbox.settles_on(expected)
    assert mailed == expected
    subjects = sorted(m["Subject"] for m in mailbox.received() if m["To"].addresses[0].username == "neg-jp")
    assert [s.split(" for ")[0] for s in subjects] == ["Letter 1", "Letter 2"]
    by_kind = {m["X-Offerdesk-Kind"]: m for m in mailbox.received()}
    for kind, says in (
        ("awaits_answer", "accept it there, or send a counter-offer"),
        ("countered", "compares it with the version the letter answered"),
        ("accepted", "accepted letter 2"),
        ("unanswered", "offerdesk staff reopen"),
        ("reopened", "They asked for a week."),
        ("remind_answer", "still awaits your answer"),
    ):
        body = by_kind[kind].get_body(("plain",))
        assert body is not None and says in body.get_content(), kind
    assert len({m["Message-ID"] for m in mailbox.received()}) == len(expected)


def _mailed(mailbox: Mailbox, kind: str, partner: str) -> int:
    return sum(m["X-Offerdesk-Kind"] == kind and m["X-Offerdesk-Partner"] == partner for m in mailbox.received())


@pytest.mark.asyncio(loop_scope="session")
async def test_nothing_is_lost_while_the_mail_server_is_away(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec], database: str
) -> None:
    desk = _mail_desk(env, settings, tmp_path, database, ["BW"], "mail-down")
    port, local, queue, engine = desk.port, desk.local, desk.queue, desk.engine
    letters = tmp_path / "store" / Kind.LETTER.value
    letters.parent.mkdir(parents=True, exist_ok=True)
    letters.write_text("not a folder")  # the store cannot write letters: the letter fails, staff are told
    spec = round_spec(["BW"]).model_copy(update={"letter_attempts": 1})
    closing.append(spec)
    rid = spec.round_id
    postbox = open_people(local.database).notices
    async with worker_running(env.client, local, queue):
        await engine.open_round(spec)
        await submitted_and_approved(engine, rid, "BW", by="neg-bw", reviewers=("ada", "grace"))
        await engine.wait_for(rid, "BW", {OfferState.LETTER_FAILED}, WAIT)
        # Nothing listens on the port: every notice is filed, none mailed, and the errors say why.
        await eventually(lambda: len(postbox.inbox("sam")) == 1, 20, "the staff notice filed")
        await eventually(
            lambda: all(e.mail_error for u in ("ada", "sam") for e in postbox.inbox(u)), 20, "mail errors kept"
        )
        assert all(e.mailed_at is None for e in postbox.inbox("ada") + postbox.inbox("sam"))
        with smtp_server(port) as mailbox:  # the mail server is back
            await eventually(lambda: len(mailbox.received()) == 4, 60, "the retries deliver")
            await asyncio.sleep(1.5)
    assert mailbox.events() == sorted(
        [
            ("ada@trade.example.org", "in_review", "BW"),
            ("grace@trade.example.org", "in_review", "BW"),
            ("rex@trade.example.org", "in_review", "BW"),
            ("sam@trade.example.org", "letter_failed", "BW"),
        ]
    )
    [failed] = [m for m in mailbox.received() if m["X-Offerdesk-Kind"] == "letter_failed"]
    body = failed.get_body(("plain",))
    assert body is not None and "retry-letter" in body.get_content()
    assert all(e.mailed_at is not None and e.mail_error is None for e in postbox.inbox("sam"))


@pytest.mark.asyncio(loop_scope="session")
async def test_reminders_fire_before_the_deadline_and_the_review_window_closes(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec], database: str
) -> None:
    desk = _mail_desk(env, settings, tmp_path, database, ["JP", "KR", "VN"], "reminders")
    port, local, queue, engine = desk.port, desk.local, desk.queue, desk.engine
    desk.accounts.set_reminders("grace", False)  # grace opted out: her reminder stays on the portal
    spec = round_spec(["JP", "KR", "VN"], deadline_in=timedelta(seconds=9), review_window=timedelta(seconds=8))
    spec = spec.model_copy(update={"remind_before": timedelta(seconds=4)})
    closing.append(spec)
    rid = spec.round_id
    with smtp_server(port) as mailbox, worker_for(env.client, local, render_workers=1, task_queue=queue) as worker:
        async with worker:
            await engine.open_round(spec)
            await engine.submit(sample_offer(rid, "KR"), by="neg-kr")  # in review: its negotiator is not reminded
            await engine.approve(rid, "KR", ADA)  # ada has decided: she is not reminded
            await engine.submit(sample_offer(rid, "VN", deficient=True), by="neg-vn")  # still deficient: reminded
            await eventually(
                lambda: sum(m["X-Offerdesk-Kind"].startswith("remind") for m in mailbox.received()) >= 3,
                30,
                "the reminders",
            )
            reminded_at = datetime.now(UTC)
            await engine.wait_for(rid, "KR", {OfferState.ESCALATED}, WAIT)
            await asyncio.sleep(1.0)
    reminders = [e for e in mailbox.events() if e[1].startswith("remind")]
    assert reminders == sorted(
        [
            ("neg-jp@partner.example", "remind_submit", "JP"),
            ("neg-vn@partner.example", "remind_submit", "VN"),
            ("rex@trade.example.org", "remind_review", "KR"),
        ]
    )
    assert reminded_at < spec.deadline  # before the deadline, not at it
    notices = open_people(local.database).notices
    assert [e.kind for e in notices.inbox("grace") if e.kind.reminder] == [NoticeKind.REMIND_REVIEW]
    assert [e.kind for e in notices.inbox("ada") if e.kind.reminder] == []
    quiet = notices.inbox("neg-jp-quiet")  # no address: on the portal
    assert NoticeKind.REMIND_SUBMIT in [e.kind for e in quiet]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_worker_killed_mid_send_and_restarted_sends_no_message_twice(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec], database: str
) -> None:
    desk = _mail_desk(env, settings, tmp_path, database, ["JP", "KR"], "restart")
    port, local, queue, engine = desk.port, desk.local, desk.queue, desk.engine
    spec = round_spec(["JP", "KR"], approvals=1)
    closing.append(spec)
    rid = spec.round_id
    environ = {
        **os.environ,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "OFFERDESK_HOME": str(tmp_path),
        "OFFERDESK_DATABASE_URL": local.database,  # workers file notices through the database URL
        "OFFERDESK_TASK_QUEUE": queue,
        "OFFERDESK_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "OFFERDESK_MAIL_FROM": "offerdesk@trade.example.org",
        "OFFERDESK_PUBLIC_URL": PUBLIC,
    }

    async def start_worker() -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            OFFERDESK, "worker", env=environ, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        for _ in range(200):
            if await engine.worker_running():
                return process
            await asyncio.sleep(0.1)
        raise AssertionError("the worker did not start")

    with smtp_server(port) as mailbox:
        first = await start_worker()
        try:
            await engine.open_round(spec)
            await engine.submit(sample_offer(rid, "JP"), by="neg-jp")  # three reviewers told
            await eventually(lambda: len(mailbox.received()) == 3, 30, "the first notices")
            mailbox.stall.set()  # the next conversation hangs before its message is handed over
            await engine.submit(sample_offer(rid, "KR"), by="neg-kr")
            await eventually(mailbox.stalled.is_set, 30, "a send in flight")
            first.send_signal(signal.SIGKILL)  # the worker dies mid-send
            await first.wait()
        finally:
            if first.returncode is None:
                first.kill()
        mailbox.stall.clear()
        second = await start_worker()
        try:
            # The notice is retried once the dead worker's heartbeats stop; then the round goes on.
            await eventually(lambda: len(mailbox.received()) == 6, 60, "KR's notices after the restart")
            await engine.approve(rid, "JP", ADA)
            await engine.approve(rid, "KR", ADA)
            await engine.wait_for(rid, "JP", {OfferState.LETTER_ISSUED}, WAIT)
            await engine.wait_for(rid, "KR", {OfferState.LETTER_ISSUED}, WAIT)
            await eventually(lambda: len(mailbox.received()) >= 8, 30, "the letters' notices")
            await asyncio.sleep(1.5)
        finally:
            second.terminate()
            await second.wait()
    counts = Counter(mailbox.events())
    assert all(n == 1 for n in counts.values()), counts
    reviewers = ["ada@trade.example.org", "grace@trade.example.org", "rex@trade.example.org"]
    assert sorted(counts) == sorted(
        [
            *[(r, "in_review", p) for r in reviewers for p in ("JP", "KR")],
            ("neg-jp@partner.example", "awaits_answer", "JP"),
            ("neg-kr@partner.example", "awaits_answer", "KR"),
        ]
    )


def _self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh certificate for localhost, and a client context that trusts only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def test_the_mailer_uses_starttls_when_offered_and_logs_in_with_the_urls_account(tmp_path: Path) -> None:
    server_tls, client_tls = _self_signed(tmp_path)
    logins: list[tuple[str, bool]] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (data.login, data.password) == (b"mailer", b"s3cret/pass")
        logins.append((data.login.decode(), session.ssl is not None))
        return AuthResult(success=ok, handled=False)

    port = free_port()
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=server_tls,
        require_starttls=True,  # nothing but STARTTLS and QUIT before TLS
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    try:
        url = f"smtp://mailer:s3cret%2Fpass@localhost:{port}"
        mailer = Mailer(SmtpSettings.from_url(url, "offerdesk@trade.example.org"), tls=client_tls)
        notice = a_notice(NoticeKind.IN_REVIEW)
        person = Recipient(name="ada", email="ada@trade.example.org")
        smtp = mailer.connect()
        try:
            Mailer.send(smtp, email_message(notice, compose(notice, person, PUBLIC), "od@x.example", person, "k"))
        finally:
            smtp.quit()
        wrong = Mailer(SmtpSettings.from_url(f"smtp://mailer:nope@localhost:{port}", "od@x.example"), tls=client_tls)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            wrong.connect()
    finally:
        controller.stop()
    # smtplib tries each mechanism the server offers before it gives up on a wrong password.
    assert len(logins) >= 2 and all(user == "mailer" and tls for user, tls in logins)  # never in plain text
    assert [m["To"].addresses[0].addr_spec for m in mailbox.received()] == ["ada@trade.example.org"]
