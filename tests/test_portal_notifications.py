"""What people touch of notifications (issue 14): their e-mail address and reminders from the command line, the
users page and the API, and each person's own notices on /notifications; over real HTTP to a real portal process."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.notify import Message
from offerdesk.config import Settings
from offerdesk.people import SchemaMismatch, open_people
from offerdesk.people.db import sqlite_url
from offerdesk.people.migrate import upgrade
from schemas.notice import Notice, NoticeKind
from schemas.portal import Role
from tests.commands import cli
from tests.portal import PASSWORD, Portal, User

on_the_portal = pytest.mark.asyncio(loop_scope="session")


# ---- a database from before e-mail addresses ----------------------------------------------------

OLD_USERS = """
CREATE TABLE users (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL,
    partner TEXT,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""


def test_a_database_from_before_email_addresses_upgrades_and_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "portal.db"
    with sqlite3.connect(path) as db:
        db.execute(OLD_USERS)
        db.execute(
            "INSERT INTO users (name, role, partner, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            ("kenji", "negotiator", "JP", "$argon2id$not-a-real-hash", datetime.now(UTC).isoformat()),
        )
    url = sqlite_url(path)
    with pytest.raises(SchemaMismatch, match="run 'offerdesk db upgrade'"):
        open_people(url)
    upgrade(url)
    users = open_people(url).users
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(users)")}
    assert {"email", "reminders"} <= columns
    [kenji] = users.all()
    assert (kenji.name, kenji.partner, kenji.email, kenji.reminders) == ("kenji", "JP", None, True)
    assert users.set_email("kenji", " Kenji@Example.ORG ").email == "Kenji@example.org"
    assert users.set_reminders("kenji", False).reminders is False
    assert users.set_email("kenji", None).email is None
    open_people(url).notices.inbox("kenji")  # opening it again changes nothing, nor do the worker's notices
    upgrade(url)  # nor does upgrading again
    [again] = open_people(url).users.all()
    assert (again.email, again.reminders) == (None, False)


# ---- the command line --------------------------------------------------------------------------


@on_the_portal
async def test_addresses_and_reminders_from_the_command_line(env: WorkflowEnvironment, settings: Settings) -> None:
    users = open_people(settings.database).users
    name = f"cli-{uuid.uuid4().hex[:8]}"
    code, out, err = await cli(
        env, settings, "user", "add", name, "--role", "reviewer", "--password", PASSWORD, "--email", "Ada@Example.ORG"
    )
    assert code == 0, err
    assert "notifications go to Ada@example.org" in out
    user = users.get(name)
    assert user is not None and user.email == "Ada@example.org" and user.reminders

    code, out, err = await cli(env, settings, "user", "set-email", name, "ada.lovelace@example.org")
    assert code == 0, err
    assert "mailed to ada.lovelace@example.org" in out
    code, out, err = await cli(env, settings, "user", "reminders", name, "off")
    assert code == 0, err
    assert "off" in out and "own offers" in out
    code, out, _ = await cli(env, settings, "user", "list")
    row = next(line for line in out.splitlines() if name in line)
    assert "ada.lovelace@example.org" in row and "off" in row
    code, out, _ = await cli(env, settings, "user", "list", "--json")
    assert '"email": "ada.lovelace@example.org"' in out

    code, out, err = await cli(env, settings, "user", "set-email", name, "--clear")
    assert code == 0, err
    assert "portal only" in out
    user = users.get(name)
    assert user is not None and user.email is None and not user.reminders
    code, out, err = await cli(env, settings, "user", "reminders", name, "on")
    assert code == 0 and "are on" in out
    user = users.get(name)
    assert user is not None and user.reminders

    # A bad address is refused with the reason, and nothing changes.
    code, out, err = await cli(env, settings, "user", "set-email", name, "ada.example.org")
    assert code == 2 and "'ada.example.org' is not a usable e-mail address" in err and "@" in err
    assert "Traceback" not in err
    code, _, err = await cli(
        env, settings, "user", "add", name + "x", "--role", "staff", "--password", PASSWORD, "--email", "a@@b"
    )
    assert code == 2 and "not a usable e-mail address" in err
    assert users.get(name + "x") is None
    code, _, err = await cli(env, settings, "user", "set-email", name)
    assert code == 2 and "--clear" in err
    code, _, err = await cli(env, settings, "user", "set-email", "nobody-" + name, "a@example.org")
    assert code == 1 and "no user" in err
    code, _, err = await cli(env, settings, "user", "reminders", name, "maybe")
    assert code == 2
    user = users.get(name)
    assert user is not None and user.email is None and user.reminders


# ---- staff set addresses through the API ---------------------------------------------------------


@on_the_portal
async def test_staff_set_and_clear_addresses_and_others_may_not(portal: Portal) -> None:
    staff = portal.user(Role.STAFF)
    kenji = portal.user(Role.NEGOTIATOR, "JP")
    name = f"new-{uuid.uuid4().hex[:8]}"
    async with staff.api() as api:
        added = await api.post(
            "/api/users",
            json={"name": name, "role": "reviewer", "password": PASSWORD, "email": "Grace@Example.ORG"},
        )
        assert added.status_code == 201, added.text
        assert added.json()["email"] == "Grace@example.org" and added.json()["reminders"] is True
        bad_new = await api.post(
            "/api/users", json={"name": name + "x", "role": "staff", "password": PASSWORD, "email": "grace"}
        )
        assert bad_new.status_code == 422 and "not a usable e-mail address" in bad_new.json()["message"]

        url = f"/api/users/{kenji.name}/email"
        set_ = await api.put(url, json={"email": "kenji@example.org"})
        assert set_.status_code == 200, set_.text
        assert set_.json()["name"] == kenji.name and set_.json()["email"] == "kenji@example.org"
        listed = {u["name"]: u for u in (await api.get("/api/users")).json()}
        assert listed[kenji.name]["email"] == "kenji@example.org" and listed[kenji.name]["reminders"] is True

        bad = await api.put(url, json={"email": "kenji at example.org"})
        assert bad.status_code == 422 and bad.json()["error"] == "Invalid"
        assert "not a usable e-mail address" in bad.json()["message"]
        missing = await api.put(f"/api/users/nobody-{name}/email", json={"email": "a@example.org"})
        assert missing.status_code == 404 and "no user" in missing.json()["message"]

        cleared = await api.put(url, json={"email": None})
        assert cleared.status_code == 200 and cleared.json()["email"] is None
        audit = (await api.get("/api/audit", params={"limit": 50})).json()
    changes = [(r["outcome"], r["detail"]) for r in audit if r["actor"] == staff.name and r["action"] == "set e-mail"]
    assert changes == [
        ("done", f"{kenji.name}: cleared"),
        ("refused", f"there is no user nobody-{name}"),  # refusals are recorded too
        ("refused", "'kenji at example.org' is not a usable e-mail address: An email address must have an @-sign."),
        ("done", f"{kenji.name}: kenji@example.org"),
    ]

    for other in (kenji, portal.user(Role.REVIEWER)):
        async with other.api() as api:
            refused = await api.put(f"/api/users/{other.name}/email", json={"email": "me@example.org"})
            assert refused.status_code == 403 and refused.json()["error"] == "Forbidden"
            assert (await api.get("/api/users")).status_code == 403
    user = portal.people.users.get(kenji.name)
    assert user is not None and user.email is None


# ---- each person's own notices ------------------------------------------------------------------


def file_notice(portal: Portal, user: User, kind: NoticeKind, partner: str, at: datetime) -> Notice:
    """A notice filed straight into `user`'s inbox, as the worker's notify activity files it."""
    round_id = f"n-{uuid.uuid4().hex[:8]}"
    notice = Notice(
        key=f"{round_id}/{partner}/{kind.value}",
        kind=kind,
        round_id=round_id,
        partner=partner,
        partner_name=partner,
        at=at,
    )
    subject = f"{kind.value} of {partner} in {round_id} for {user.name}"
    message = Message(subject, f"Dear {user.name},\nsomething about {round_id}.", "<p>html</p>", "http://x/")
    portal.people.notices.file(f"{notice.key}/{user.name.lower()}", user.name, notice, message)
    return notice


@on_the_portal
async def test_everyone_reads_their_own_notices_and_nobody_elses(portal: Portal) -> None:
    kenji, ada, staff = portal.user(Role.NEGOTIATOR, "JP"), portal.user(Role.REVIEWER), portal.user(Role.STAFF)
    now = datetime.now(UTC)
    older = file_notice(portal, kenji, NoticeKind.DEFICIENT, "JP", now - timedelta(hours=1))
    newer = file_notice(portal, kenji, NoticeKind.LETTER_READY, "JP", now)
    review = file_notice(portal, ada, NoticeKind.IN_REVIEW, "JP", now)
    # Mailed, and refused by the mail server: the inbox says which.
    box = portal.people.notices
    box.mailed(f"{newer.key}/{kenji.name.lower()}")
    box.mail_failed(f"{older.key}/{kenji.name.lower()}", "550 no such mailbox", final=True)

    async with kenji.api() as api:
        mine = (await api.get("/api/notifications")).json()
        assert [e["round_id"] for e in mine] == [newer.round_id, older.round_id]  # newest first
        assert [e["kind"] for e in mine] == ["letter_ready", "deficient"]
        assert mine[0]["mailed_at"] is not None and mine[1]["mail_error"] == "550 no such mailbox"
        assert all(kenji.name in e["subject"] for e in mine)
        assert len((await api.get("/api/notifications", params={"limit": 1})).json()) == 1
    async with ada.api() as api:
        theirs = (await api.get("/api/notifications")).json()
        assert [e["round_id"] for e in theirs] == [review.round_id]
    async with staff.api() as api:
        # Staff see their own inbox too, not others': none of the notices above. (An offer of another test on the
        # session's worker may escalate meanwhile and tell every staff member, this one included: that is theirs.)
        seen = {e["key"] for e in (await api.get("/api/notifications")).json()}
        assert not seen & {f"{n.key}/{who.name.lower()}" for n, who in ((older, kenji), (newer, kenji), (review, ada))}
        assert all(not key.startswith(f"{n.key}/") for key in seen for n in (older, newer, review))

    # The page shows the same, with the offer's path and the whole text.
    client, _ = await kenji.browser_session()
    try:
        page = await client.get("/notifications")
        assert page.status_code == 200
        assert f"/rounds/{newer.round_id}/offers/JP" in page.text and "Open the offer" in page.text
        assert f"something about {older.round_id}" in page.text and "<details>" in page.text
        assert "550 no such mailbox" in page.text and "mailed " in page.text
        assert review.round_id not in page.text
        assert "no e-mail address" in page.text and "ask staff to set one" in page.text
        assert 'href="/notifications"' in page.text  # in the nav
    finally:
        await client.aclose()


@on_the_portal
async def test_reminders_are_each_persons_own_to_turn_off(portal: Portal) -> None:
    kenji, ada = portal.user(Role.NEGOTIATOR, "JP"), portal.user(Role.REVIEWER)
    async with kenji.api() as api:
        off = await api.put("/api/notifications/reminders", json={"on": False})
        assert off.status_code == 200, off.text
        assert off.json()["name"] == kenji.name and off.json()["reminders"] is False
        assert (await api.put("/api/notifications/reminders", json={"on": "maybe"})).status_code == 422
        assert (await api.put("/api/notifications/reminders", json={"on": True, "user": ada.name})).status_code == 422
    kenji_now, ada_now = portal.people.users.get(kenji.name), portal.people.users.get(ada.name)
    assert kenji_now is not None and not kenji_now.reminders
    assert ada_now is not None and ada_now.reminders

    # In the browser: the form is the session's own, and needs the CSRF field like every other form.
    portal.people.users.set_email(ada.name, "ada@example.org")
    client, csrf = await ada.browser_session()
    try:
        page = await client.get("/notifications")
        assert "ada@example.org" in page.text and "always sent" in page.text
        assert (await client.post("/notifications/reminders", data={"reminders": "off"})).status_code == 403
        ada_now = portal.people.users.get(ada.name)
        assert ada_now is not None and ada_now.reminders
        answer = await client.post("/notifications/reminders", data={"reminders": "off", "csrf": csrf})
        assert answer.status_code == 303 and answer.headers["location"] == "/notifications"
        page = await client.get("/notifications")
        assert "reminders are off" in page.text and '<strong id="reminders-state">off</strong>' in page.text
        ada_now = portal.people.users.get(ada.name)
        assert ada_now is not None and not ada_now.reminders
        nonsense = await client.post("/notifications/reminders", data={"reminders": "sometimes", "csrf": csrf})
        assert nonsense.status_code == 303
        assert "on or off" in (await client.get("/notifications")).text
        # The API from the same session needs the CSRF header.
        assert (await client.put("/api/notifications/reminders", json={"on": True})).status_code == 403
        back_on = await client.put("/api/notifications/reminders", json={"on": True}, headers={"X-CSRF-Token": csrf})
        assert back_on.status_code == 200 and back_on.json()["reminders"] is True
    finally:
        await client.aclose()
    kenji_now = portal.people.users.get(kenji.name)
    assert kenji_now is not None and not kenji_now.reminders  # untouched by ada's choices


@on_the_portal
async def test_staff_set_addresses_on_the_users_page(portal: Portal) -> None:
    staff, kenji = portal.user(Role.STAFF), portal.user(Role.NEGOTIATOR, "JP")
    url = f"/access/users/{kenji.name}/email"
    client, csrf = await staff.browser_session()
    try:
        page = await client.get("/access")
        assert f'action="{url}"' in page.text and f'aria-label="E-mail of {kenji.name}"' in page.text
        assert (await client.post(url, data={"email": "kenji@example.org"})).status_code == 403  # no CSRF field
        answer = await client.post(url, data={"email": "kenji@example.org", "csrf": csrf})
        assert answer.status_code == 303 and answer.headers["location"] == "/access"
        page = await client.get("/access")
        assert "mailed to kenji@example.org" in page.text and 'value="kenji@example.org"' in page.text
        user = portal.people.users.get(kenji.name)
        assert user is not None and user.email == "kenji@example.org"

        await client.post(url, data={"email": "not an address", "csrf": csrf})
        page = await client.get("/access")
        assert "not a usable e-mail address" in page.text and 'class="flash error"' in page.text
        user = portal.people.users.get(kenji.name)
        assert user is not None and user.email == "kenji@example.org"

        await client.post(url, data={"email": "kenji@example.org", "clear": "1", "csrf": csrf})
        assert "portal only" in (await client.get("/access")).text
        user = portal.people.users.get(kenji.name)
        assert user is not None and user.email is None
    finally:
        await client.aclose()

    client, csrf = await kenji.browser_session()
    try:
        refused = await client.post(url, data={"email": "kenji@example.org", "csrf": csrf})
        assert refused.status_code == 403
        assert (await client.get("/access")).status_code == 403
        assert 'href="/access"' not in (await client.get("/notifications")).text
    finally:
        await client.aclose()
    user = portal.people.users.get(kenji.name)
    assert user is not None and user.email is None
