"""Issue 26: notices through an outbox. An offer posts a notice in one local activity (the outbox and the inboxes,
no SMTP); a postman in every worker mails it, retries it while the mail server is away, gives up at once on what
can never be mailed, shares the outbox with other workers' postmen and lets its sends finish when the worker stops.

Against the people's database (SQLite, or PostgreSQL with OFFERDESK_TEST_DATABASE=postgresql) and a real SMTP
server (aiosmtpd); the worker's drain against the Temporal dev server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from temporalio.testing import WorkflowEnvironment

from activities.names import POST_NOTICE
from activities.notify import NotifyActivities
from activities.postman import FIRST_RETRY, LONGEST_WAIT, PATIENCE, Postman, next_try
from activities.smtp import NO_SMTPUTF8, Mailer, SmtpSettings
from offerdesk.config import Settings
from offerdesk.devserver import free_port
from offerdesk.people import People, open_people
from offerdesk.people.schema import outbox
from offerdesk.worker import worker_for
from schemas.notice import Notice, NoticeKind
from schemas.portal import Role
from tests.notices import a_notice
from tests.smtpserver import eventually, smtp_server

PUBLIC = "http://portal.example.org/"
SENDER = "Offerdesk <offerdesk@trade.example.org>"
PASSWORD = "correct horse battery"
REVIEWERS = ["ada@trade.example.org", "grace@trade.example.org", "rex@trade.example.org"]
on_the_loop = pytest.mark.asyncio(loop_scope="session")


def _notice(kind: NoticeKind = NoticeKind.IN_REVIEW) -> Notice:
    return a_notice(kind, key=f"offer/r-{uuid.uuid4().hex[:6]}/JP@abcd1234/{kind.value}/1")


def _reviewers(database: str, grace: str = "grace@trade.example.org") -> People:
    """Three reviewers with addresses, one without: an in-review notice goes to three mailboxes and four inboxes."""
    people = open_people(database)
    people.users.add("ada", Role.REVIEWER, PASSWORD, email="ada@trade.example.org")
    people.users.add("grace", Role.REVIEWER, PASSWORD, email=grace)
    people.users.add("rex", Role.REVIEWER, PASSWORD, email="rex@trade.example.org")
    people.users.add("quiet", Role.REVIEWER, PASSWORD)
    return people


def _notify(people: People, port: int) -> NotifyActivities:
    return NotifyActivities(people.notices, Mailer(SmtpSettings.from_url(f"smtp://127.0.0.1:{port}", SENDER)), PUBLIC)


def _mailing_reviewers(database: str) -> tuple[People, int, NotifyActivities]:
    """The reviewers, a free port for their mail server, and the activities that mail them through it."""
    people = _reviewers(database)
    port = free_port()
    return people, port, _notify(people, port)


def _rows(people: People) -> dict[str, Any]:
    """The outbox as it is, by key."""
    with people.database.begin() as db:
        return {r["key"]: r for r in db.execute(select(outbox)).mappings().all()}


def _done(people: People, key: str) -> bool:
    row = _rows(people).get(key)
    return row is not None and row["done_at"] is not None


@asynccontextmanager
async def _postman(
    notify: NotifyActivities, people: People, tick_s: float = 0.05, slots: int = 4
) -> AsyncIterator[Postman]:
    threads = ThreadPoolExecutor(max_workers=slots + 1)
    postman = Postman(notify, people.notices, slots, threads, tick_s=tick_s)
    postman.start()
    try:
        yield postman
    finally:
        await postman.stop(10)
        threads.shutdown(wait=False, cancel_futures=True)


# ---- when to try again: pure ---------------------------------------------------------------------


def test_retries_wait_a_second_then_double_up_to_five_minutes_for_three_days() -> None:
    posted = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert next_try(posted, 1, posted) == posted + FIRST_RETRY
    assert next_try(posted, 2, posted) == posted + 2 * FIRST_RETRY
    assert next_try(posted, 4, posted) == posted + 8 * FIRST_RETRY
    assert next_try(posted, 9, posted) == posted + 256 * FIRST_RETRY
    assert next_try(posted, 10, posted) == posted + LONGEST_WAIT  # 512 s would be more than five minutes
    assert next_try(posted, 10_000, posted) == posted + LONGEST_WAIT
    late = posted + PATIENCE - timedelta(minutes=4)
    assert next_try(posted, 900, late) is None  # five minutes on would be past the three days
    assert next_try(posted, 3, late) == late + 4 * FIRST_RETRY


# ---- the outbox ----------------------------------------------------------------------------------


def test_posting_twice_is_one_row_in_the_outbox_and_one_entry_for_each_person(database: str) -> None:
    people = _reviewers(database)
    notify = _notify(people, free_port())  # nothing listens: posting never talks to the mail server
    notice = _notice()
    assert getattr(notify.post, "__temporal_activity_definition").name == POST_NOTICE
    assert notify.local() == [notify.post]
    notify.post(notice)
    notify.post(notice)  # a local activity may run twice
    assert people.notices.post(notice) is False
    [row] = _rows(people).values()
    assert row["key"] == notice.key and Notice.model_validate_json(row["notice"]) == notice
    assert (row["attempts"], row["done_at"], row["claimed_by"]) == (0, None, None)
    for name in ("ada", "grace", "rex", "quiet"):  # on the portal as soon as it is posted
        assert [e.key for e in people.notices.inbox(name)] == [f"{notice.key}/{name}"]
    assert [e.mail_error for e in people.notices.inbox("quiet")] == ["no e-mail address on file"]
    [due] = people.notices.due(datetime.now(UTC), 10)
    assert (due.key, due.notice, due.attempts) == (notice.key, notice, 0)


def test_one_postman_holds_a_notice_at_a_time_until_it_lets_it_go(database: str) -> None:
    postbox = open_people(database).notices
    notice = _notice()
    postbox.post(notice)
    now = datetime.now(UTC)
    until = now + timedelta(minutes=1)
    assert postbox.take(notice.key, until, "a") == 1
    assert postbox.take(notice.key, until, "b") is None  # held
    assert postbox.due(now + timedelta(seconds=1), 10) == []
    assert postbox.hold(notice.key, until, "a") and not postbox.hold(notice.key, until, "b")
    postbox.retry_later(notice.key, "b", now, "not b's to let go")  # changes nothing
    assert postbox.take(notice.key, until, "b") is None
    later = datetime.now(UTC) + timedelta(hours=1)
    postbox.retry_later(notice.key, "a", later, "421 try later")
    assert postbox.due(datetime.now(UTC), 10) == []  # not yet due
    assert postbox.take(notice.key, until, "b") is None
    [due] = postbox.due(later, 10)
    assert due.attempts == 1
    expired = datetime.now(UTC) - timedelta(seconds=1)
    other = _notice()
    postbox.post(other)
    assert postbox.take(other.key, expired, "a") == 1  # a postman that died: its claim has run out
    assert postbox.take(other.key, until, "b") == 2
    postbox.sent(other.key, "a")  # a's word no longer counts
    assert not _done(open_people(database), other.key)
    postbox.sent(other.key, "b")
    assert postbox.take(other.key, until, "c") is None and postbox.due(later, 10) == [due]


def test_a_notice_this_code_cannot_read_is_left_for_a_newer_worker(database: str) -> None:
    people = open_people(database)
    readable, newer = _notice(), _notice()
    people.notices.post(readable)
    people.notices.post(newer)
    future = newer.model_dump(mode="json") | {"kind": "a_kind_of_a_later_version"}
    with people.database.begin() as db:  # as an Offerdesk newer than this one posted it, mid-upgrade
        db.execute(update(outbox).where(outbox.c.key == newer.key).values(notice=json.dumps(future)))
    assert [p.key for p in people.notices.due(datetime.now(UTC), 10)] == [readable.key]
    assert not _done(people, newer.key)


# ---- the postman ---------------------------------------------------------------------------------


@on_the_loop
async def test_a_posted_notice_is_mailed_at_once_to_each_person_once(database: str) -> None:
    people, port, notify = _mailing_reviewers(database)
    earlier, notice = _notice(), _notice()
    people.notices.post(earlier)  # in the outbox before the postman starts: its first look finds it
    with smtp_server(port) as mailbox:
        # An hour between looks: after the first, only the wake-up from a post (on another thread) gets one mailed.
        async with _postman(notify, people, tick_s=3600):
            await eventually(lambda: _done(people, earlier.key), 30, "the earlier notice sent")
            await asyncio.to_thread(notify.post, notice)
            await asyncio.to_thread(notify.post, notice)
            await eventually(lambda: _done(people, notice.key), 30, "the notice sent")
    assert [to for to, _, _ in mailbox.events()] == sorted(REVIEWERS * 2)
    assert Counter(m["X-Offerdesk-Notice"].rsplit("/", 1)[0] for m in mailbox.received()) == {
        earlier.key: 3,
        notice.key: 3,
    }
    row = _rows(people)[notice.key]
    assert (row["attempts"], row["last_error"]) == (1, None)
    for name in ("ada", "grace", "rex"):
        entries = people.notices.inbox(name)
        assert len(entries) == 2 and all(e.mailed_at is not None and e.mail_error is None for e in entries)


@on_the_loop
async def test_while_the_mail_server_is_away_the_errors_are_kept_and_the_retries_deliver(database: str) -> None:
    people, port, notify = _mailing_reviewers(database)
    notice = _notice()
    async with _postman(notify, people):
        notify.post(notice)
        # Nothing listens on the port: the notice is filed for everyone, mailed to none, and the errors say why.
        await eventually(lambda: _rows(people)[notice.key]["attempts"] >= 2, 30, "tried twice")
        row = _rows(people)[notice.key]
        assert row["done_at"] is None and "ConnectionRefusedError" in row["last_error"]
        entries = [e for name in ("ada", "grace", "rex") for e in people.notices.inbox(name)]
        assert len(entries) == 3 and all(e.mailed_at is None and e.mail_error for e in entries)
        with smtp_server(port) as mailbox:  # the mail server is back
            await eventually(lambda: _done(people, notice.key), 60, "the retries deliver")
    assert [to for to, _, _ in mailbox.events()] == REVIEWERS
    assert _rows(people)[notice.key]["last_error"] is None
    for name in ("ada", "grace", "rex"):
        [entry] = people.notices.inbox(name)
        assert entry.mailed_at is not None and entry.mail_error is None


@on_the_loop
async def test_an_address_that_cannot_be_mailed_is_given_up_at_once_and_the_others_are_mailed(
    database: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OFFERDESK_SMTP_UTF8", "1")  # said wrongly: the server does not offer it
    people = _reviewers(database, grace="grâce@exämple.org")
    port = free_port()
    notify = _notify(people, port)
    notice = _notice()
    with smtp_server(port) as mailbox, caplog.at_level(logging.WARNING, "offerdesk.postman"):
        async with _postman(notify, people):
            notify.post(notice)
            await eventually(lambda: _done(people, notice.key), 30, "the notice done with")
    assert [to for to, _, _ in mailbox.events()] == ["ada@trade.example.org", "rex@trade.example.org"]
    row = _rows(people)[notice.key]
    assert row["attempts"] == 1 and f"grace: {NO_SMTPUTF8}" in row["last_error"]  # not retried
    [entry] = people.notices.inbox("grace")
    assert entry.mailed_at is None and entry.mail_error == NO_SMTPUTF8
    [said] = [r for r in caplog.records if r.name == "offerdesk.postman" and r.levelno == logging.WARNING]
    assert said.getMessage().startswith(f"gave up mailing notice {notice.key}")
    assert said.__dict__["offerdesk"]["partner"] == "JP"  # the JSON logs' own fields


@on_the_loop
async def test_two_postmen_on_one_database_send_each_message_once(database: str) -> None:
    people = _reviewers(database)
    port = free_port()
    notices = [_notice() for _ in range(6)]
    with smtp_server(port) as mailbox:
        async with _postman(_notify(people, port), people), _postman(_notify(people, port), people):
            for notice in notices:
                await asyncio.to_thread(people.notices.post, notice)  # as a post on a third worker would
            await eventually(lambda: all(_done(people, n.key) for n in notices), 60, "every notice sent")
    sent = Counter(m["X-Offerdesk-Notice"] for m in mailbox.received())
    assert sent == Counter(f"{n.key}/{name}" for n in notices for name in ("ada", "grace", "rex"))
    assert {r["attempts"] for r in _rows(people).values()} == {1}  # each taken once, by one of them


@on_the_loop
async def test_a_stopping_postman_lets_its_sends_finish_or_leaves_them_to_another(database: str) -> None:
    people, port, notify = _mailing_reviewers(database)
    first, second = _notice(), _notice()
    with smtp_server(port) as mailbox:
        threads = ThreadPoolExecutor(max_workers=3)
        postman = Postman(notify, people.notices, 2, threads, tick_s=0.05)
        postman.start()
        mailbox.stall.set()  # the conversation hangs before the message is handed over
        notify.post(first)
        await eventually(mailbox.stalled.is_set, 30, "a send in flight")
        stopping = asyncio.get_running_loop().create_task(postman.stop(60))
        await eventually(lambda: postman.stopping, 30, "the postman stopping")  # no new work; it waits
        mailbox.stall.clear()
        await stopping
        assert _done(people, first.key)  # finished before the stop returned
        assert len(mailbox.received()) == 3

        postman = Postman(notify, people.notices, 2, threads, tick_s=0.05)
        postman.start()
        mailbox.stalled.clear()
        mailbox.stall.set()
        notify.post(second)
        await eventually(mailbox.stalled.is_set, 30, "another send in flight")
        await postman.stop(0.1)  # no time to finish: left, held until its claim runs out
        row = _rows(people)[second.key]
        assert row["done_at"] is None and row["claimed_until"] is not None
        mailbox.stall.clear()
        threads.shutdown(wait=True)


@on_the_loop
async def test_the_worker_runs_a_postman_and_drains_it_when_it_stops(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, database: str
) -> None:
    port = free_port()
    local = replace(
        settings, home=tmp_path, database_url=database, smtp_url=f"smtp://127.0.0.1:{port}", mail_from=SENDER
    )
    people = _reviewers(local.database)
    notice = _notice()
    with smtp_server(port) as mailbox, worker_for(env.client, local, render_workers=1, task_queue=tmp_path.name) as w:
        await w.__aenter__()
        try:
            mailbox.stall.set()
            await asyncio.to_thread(people.notices.post, notice)  # as an offer's post_notice does
            await eventually(mailbox.stalled.is_set, 30, "a send in flight")
        finally:
            leaving = asyncio.get_running_loop().create_task(w.__aexit__(None, None, None))
            await eventually(lambda: w.postman.stopping, 30, "the worker stopping")
            mailbox.stall.clear()
            await leaving
        assert _done(people, notice.key)
        assert [to for to, _, _ in mailbox.events()] == REVIEWERS
