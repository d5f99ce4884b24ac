"""Issue 21, item 5: international mail addresses. Sent with SMTPUTF8 when the server offers it; refused when set
unless the server is said to take them; and a notice that cannot be mailed says why, to its person and to staff,
without being retried. Against real SMTP servers (aiosmtpd with and without SMTPUTF8), a real worker and portal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace
from datetime import UTC
from email.policy import SMTPUTF8
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import RowMapping, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.names import MAIL_UNDELIVERABLE
from activities.notify import NO_ADDRESS, NotifyActivities, compose, email_message, mail_address
from activities.smtp import NO_SMTPUTF8, Mailer, SmtpSettings, Undeliverable
from offerdesk.config import Settings
from offerdesk.devserver import free_port
from offerdesk.engine import Engine
from offerdesk.people import People, open_people
from offerdesk.people.schema import outbox
from offerdesk.people.users import AccountError, check_email, international_addresses_allowed
from offerdesk.samples import sample_offer
from offerdesk.worker import worker_for
from schemas.notice import Notice, NoticeKind, Recipient
from schemas.portal import Role
from schemas.round import RoundSpec
from tests.commands import cli
from tests.conftest import round_spec
from tests.notices import a_notice
from tests.portal import PASSWORD, Portal, User, start_portal
from tests.smtpserver import eventually, smtp_server
from workflows.names import offer_workflow_id

PUBLIC = "http://portal.example.org/"
SENDER = "Offerdesk <offerdesk@trade.example.org>"
GRACE = "grâce@exämple.org"
on_the_server = pytest.mark.asyncio(loop_scope="session")


def _notice(kind: NoticeKind = NoticeKind.IN_REVIEW) -> Notice:
    """A notice under a key of its own: each test files it anew."""
    return a_notice(kind, key=f"offer/r-{uuid.uuid4().hex[:6]}/JP@abcd1234/{kind.value}/1")


def _reviewers(database: str) -> People:
    """grace at an international address, ada at a domain in another script only, rex without an address."""
    people = open_people(database)
    people.users.add("grace", Role.REVIEWER, PASSWORD, email=GRACE)
    people.users.add("ada", Role.REVIEWER, PASSWORD, email="ada@exämple.org")
    people.users.add("rex", Role.REVIEWER, PASSWORD)
    return people


# ---- the address in the mail: pure ----------------------------------------------------------------


def test_a_domain_in_another_script_goes_as_punycode_and_only_a_local_part_needs_smtputf8() -> None:
    assert mail_address("ada@example.org") == mail_address("ada@example.org")
    plain = mail_address("ada@exämple.org")
    assert (plain.local, plain.domain, plain.international) == ("ada", "xn--exmple-cua.org", False)
    grace = mail_address(GRACE)
    assert (grace.local, grace.domain, grace.international) == ("grâce", "exämple.org", True)
    for broken in ("no-at-sign", "grâce@@exämple.org", "grâce@"):
        with pytest.raises(Undeliverable, match="cannot be written in a mail"):
            mail_address(broken)

    notice = _notice()
    ada = Recipient(name="ada", email="ada@exämple.org")
    mail = email_message(notice, compose(notice, ada, PUBLIC), SENDER, ada, "k/ada")
    assert mail["To"] == "ada <ada@xn--exmple-cua.org>" and mail.as_bytes().isascii()
    her = Recipient(name="grace", email=GRACE)
    mail = email_message(notice, compose(notice, her, PUBLIC), SENDER, her, "k/grace")
    assert mail.policy is SMTPUTF8 and f"To: grace <{GRACE}>".encode() in mail.as_bytes()


def test_the_check_when_an_address_is_set() -> None:
    configured = {"OFFERDESK_SMTP_URL": "smtp://mail.example.org"}
    assert international_addresses_allowed({})  # no mail server: nothing is mailed, nothing fails
    assert not international_addresses_allowed(configured)
    assert international_addresses_allowed({**configured, "OFFERDESK_SMTP_UTF8": "1"})
    with pytest.raises(AccountError) as refused:
        check_email(f" {GRACE} ", international=False)
    assert refused.value.message == (
        f"'{GRACE}' has letters beyond ASCII before the @, and the mail server is not known to take such addresses: "
        "give one with plain ASCII before the @ (the domain may stay), or set OFFERDESK_SMTP_UTF8=1 if the server "
        "offers SMTPUTF8"
    )
    assert check_email(GRACE, international=True) == GRACE
    assert check_email("Ada@EXÄMPLE.org", international=False) == "Ada@exämple.org"  # kept as written, sent as punycode


# ---- sending: real SMTP servers ------------------------------------------------------------------


def test_an_international_address_arrives_intact_through_a_server_with_smtputf8(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFERDESK_SMTP_UTF8", "1")
    people = _reviewers(database)
    port = free_port()
    notify = NotifyActivities(people.notices, Mailer(SmtpSettings.from_url(f"smtp://127.0.0.1:{port}", SENDER)), PUBLIC)
    notice = _notice()
    with smtp_server(port, smtputf8=True) as mailbox:
        result = notify.deliver(notice)
    assert (result.mailed, result.not_mailed, result.refused) == (2, 1, [])
    envelopes = sorted(mailbox.envelopes, key=lambda e: e[1])
    assert [rcpt for _, rcpt, _ in envelopes] == [["ada@xn--exmple-cua.org"], [GRACE]]
    assert "SMTPUTF8" in envelopes[1][2] and "SMTPUTF8" not in envelopes[0][2]  # asked for only where needed
    [hers] = [m for m in mailbox.received() if m["X-Offerdesk-Notice"].endswith("/grace")]
    assert hers["To"].addresses[0].addr_spec == GRACE and hers["To"].addresses[0].display_name == "grace"
    assert hers["Subject"] == compose(notice, Recipient(name="grace", email=GRACE), PUBLIC).subject
    body = hers.get_body(("plain",))
    assert body is not None and "Dear grace" in body.get_content()
    [entry] = people.notices.inbox("grace")
    assert entry.mailed_at is not None and entry.mail_error is None
    assert [e.mail_error for e in people.notices.inbox("rex")] == [NO_ADDRESS]


def test_without_smtputf8_the_others_are_mailed_and_hers_fails_for_good_saying_why(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFERDESK_SMTP_UTF8", "1")  # said wrongly: the server does not offer it
    people = _reviewers(database)
    port = free_port()
    notify = NotifyActivities(people.notices, Mailer(SmtpSettings.from_url(f"smtp://127.0.0.1:{port}", SENDER)), PUBLIC)
    notice = _notice()
    with smtp_server(port) as mailbox:
        with pytest.raises(ApplicationError) as failed:
            notify.deliver(notice)
        again = notify.deliver(notice)  # were it retried, nothing would change: hers is done with, ada's is mailed
    assert failed.value.type == MAIL_UNDELIVERABLE and failed.value.non_retryable
    assert f"grace: {NO_SMTPUTF8}" in failed.value.message
    assert (again.mailed, again.already_mailed) == (0, 2)
    assert [rcpt for _, rcpt, _ in mailbox.envelopes] == [["ada@xn--exmple-cua.org"]]
    [entry] = people.notices.inbox("grace")
    assert entry.mailed_at is None and entry.mail_error == NO_SMTPUTF8


# ---- setting an address from the command line ----------------------------------------------------


@on_the_server
async def test_the_command_line_refuses_an_international_address_unless_the_server_is_said_to_take_it(
    env: WorkflowEnvironment, settings: Settings
) -> None:
    users = open_people(settings.database).users
    name = f"intl-{uuid.uuid4().hex[:8]}"
    users.add(name, Role.REVIEWER, PASSWORD, email="grace@example.org")
    mail = {"OFFERDESK_SMTP_URL": "smtp://mail.example.org:2525", "OFFERDESK_SMTP_UTF8": ""}

    code, _, err = await cli(env, settings, "user", "set-email", name, GRACE, **mail)
    said = " ".join(err.split())
    assert code == 2 and "Traceback" not in err, err
    assert f"'{GRACE}' has letters beyond ASCII before the @" in said and "OFFERDESK_SMTP_UTF8=1" in said
    assert (users.get(name) or pytest.fail("gone")).email == "grace@example.org"  # unchanged
    code, _, err = await cli(
        env, settings, "user", "add", name + "x", "--role", "staff", "--password", PASSWORD, "--email", GRACE, **mail
    )
    assert code == 2 and "beyond ASCII" in err and users.get(name + "x") is None

    code, out, err = await cli(env, settings, "user", "set-email", name, "Ada@Exämple.ORG", **mail)
    assert code == 0, err
    assert "mailed to Ada@exämple.org." in out  # a domain in another script is fine anywhere

    code, out, err = await cli(env, settings, "user", "set-email", name, GRACE, **{**mail, "OFFERDESK_SMTP_UTF8": "1"})
    assert code == 0, err
    assert f"mailed to {GRACE} (an international address: the mail server must offer SMTPUTF8)" in " ".join(out.split())
    assert (users.get(name) or pytest.fail("gone")).email == GRACE

    code, out, err = await cli(env, settings, "user", "set-email", name, "grâce@example.org", OFFERDESK_SMTP_URL="")
    assert code == 0, err  # no mail server: nothing is mailed, so nothing can fail
    assert (users.get(name) or pytest.fail("gone")).email == "grâce@example.org"


# ---- the whole way: worker, mail server without SMTPUTF8, portal --------------------------------


@on_the_server
async def test_a_notice_that_cannot_be_mailed_fails_once_and_says_why_to_the_person_and_to_staff(
    env: WorkflowEnvironment,
    settings: Settings,
    tmp_path: Path,
    closing: list[RoundSpec],
    monkeypatch: pytest.MonkeyPatch,
    database: str,
) -> None:
    port = free_port()
    smtp_url = f"smtp://127.0.0.1:{port}"
    local = replace(
        settings,
        home=tmp_path,
        database_url=database,
        smtp_url=smtp_url,
        mail_from=SENDER,
        public_url=PUBLIC,
    )
    monkeypatch.setenv("OFFERDESK_SMTP_UTF8", "1")  # grace's address was set while the server was said to take it
    people = _reviewers(local.database)
    people.users.add("neg-jp", Role.NEGOTIATOR, PASSWORD, "JP", "neg-jp@partner.example")
    people.users.add("sam", Role.STAFF, PASSWORD, email="sam@trade.example.org")
    queue = f"intl-{tmp_path.name}"
    engine = Engine(env.client, local.store(), task_queue=queue)
    spec = round_spec(["JP"])
    closing.append(spec)
    rid = spec.round_id
    with smtp_server(port) as mailbox, worker_for(env.client, local, render_workers=1, task_queue=queue) as worker:
        async with worker:
            await engine.open_round(spec)
            await engine.submit(sample_offer(rid, "JP"), by="neg-jp")  # in review: ada, grace and rex are told
            await eventually(lambda: len(mailbox.received()) == 1, 30, "ada's notice")
            await eventually(lambda: bool(people.notices.inbox("grace")[0].mail_error), 30, "why grace's was not")
            await eventually(lambda: _outbox_done(people, offer_workflow_id(rid, "JP")) != [], 30, "given up")
    assert [rcpt for _, rcpt, _ in mailbox.envelopes] == [["ada@xn--exmple-cua.org"]]
    [entry] = people.notices.inbox("grace")
    assert entry.mailed_at is None and entry.mail_error == NO_SMTPUTF8

    # Given up at once, not retried: one attempt, and the outbox keeps why (the worker logs it at WARNING).
    [row] = _outbox_done(people, offer_workflow_id(rid, "JP"))
    assert row["attempts"] == 1 and f"grace: {NO_SMTPUTF8}" in row["last_error"]

    # The portal, configured as the worker is, shows why; and refuses such an address when it is set.
    running = cast(
        AsyncGenerator[Portal], start_portal(env, local, OFFERDESK_SMTP_URL=smtp_url, OFFERDESK_SMTP_UTF8="")
    )
    async with aclosing(running):
        portal = await anext(running)

        def user(name: str, role: Role) -> User:
            return User(name, role, None, portal.people.tokens.create(name, "tests", "tests").token, portal)

        client, _ = await user("grace", Role.REVIEWER).browser_session()
        try:
            page = (await client.get("/notifications")).text
            assert f"not mailed: {NO_SMTPUTF8}" in page
            assert "Notices not mailed" not in page  # everyone's are for staff
        finally:
            await client.aclose()

        staff = user("sam", Role.STAFF)
        client, csrf = await staff.browser_session()
        try:
            page = (await client.get("/notifications")).text
            listed = page.split('id="not-mailed"')[1]
            assert "grace" in listed and GRACE in listed and NO_SMTPUTF8 in listed and rid in listed
            assert "ada@" not in listed and "rex" not in listed  # mailed; on the portal only by having no address
            assert entry.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") in listed  # when

            await client.post("/access/users/ada/email", data={"email": GRACE, "csrf": csrf})
            page = (await client.get("/access")).text
            assert 'class="flash error"' in page and "beyond ASCII before the @" in page
        finally:
            await client.aclose()
        async with staff.api() as api:
            refused = await api.put("/api/users/ada/email", json={"email": GRACE})
            assert refused.status_code == 422 and "OFFERDESK_SMTP_UTF8=1" in refused.json()["message"]
        assert (portal.people.users.get("ada") or pytest.fail("gone")).email == "ada@exämple.org"


def _outbox_done(people: People, offer: str) -> list[RowMapping]:
    """The offer's notices the postman is done with (sent, or given up: then with their last error)."""
    with people.database.begin() as db:
        query = select(outbox).where(outbox.c.key.startswith(offer + "@"), outbox.c.done_at.is_not(None))
        return list(db.execute(query).mappings().all())
