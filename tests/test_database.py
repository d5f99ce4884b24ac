"""The people's records' database (issue 22): migrations that keep what today's portal.db holds, a schema older
or newer than the code refused with the command to run, races settled by the database, and a portal that answers
503 while PostgreSQL is away and recovers when it returns. PostgreSQL is a server these tests start themselves."""

from __future__ import annotations

import ast
import contextlib
import html
import os
import sqlite3
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar, cast

import httpx
import pytest
from sqlalchemy import inspect, text
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.notify import Holder, Message
from offerdesk.config import Settings
from offerdesk.converter import ensure_keyring
from offerdesk.people import AccountError, People, SchemaMismatch, open_people
from offerdesk.people.audit import Entry
from offerdesk.people.db import close, make_engine, sqlite_url
from offerdesk.people.migrate import HEAD, REVISIONS, State, scripts, standing, upgrade
from offerdesk.people.schema import metadata
from offerdesk.people.throttle import ACCOUNT_LIMIT
from offerdesk.worker import worker_for
from schemas.notice import Notice, NoticeKind
from schemas.portal import Role
from schemas.refusal import Refusal
from tests.commands import OFFERDESK
from tests.portal import PASSWORD, start_portal
from tests.postgres import Postgres

BEFORE_MIGRATIONS = Path(__file__).parent / "data" / "portal-before-migrations.sql"
"""A portal.db made by the code before migrations (see the file's header for what it holds)."""
KENJIS_TOKEN = "od_0e1cc0d79a0a_sHu6CJ42mv4u0Dh570eoCMIpAO_wsiMMyysa5t-VLho"
KENJIS_COOKIE = "_3Or2sB0MhNAe9wBRnS1ZGFiwSbEjO9OuG3uxL7KAHQ"
KINDS = ["sqlite", "postgresql"]
T = TypeVar("T")


def fresh(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new database at the newest revision, of the kind asked for (whatever OFFERDESK_TEST_DATABASE says)."""
    if kind == "postgresql":
        server: Postgres = request.getfixturevalue("postgres")
        return server.new_database()
    url = sqlite_url(tmp_path / f"{kind}.db")
    upgrade(url)
    return url


def before_migrations(tmp_path: Path) -> str:
    path = tmp_path / "portal.db"
    with sqlite3.connect(path) as db:
        db.executescript(BEFORE_MIGRATIONS.read_text())
    return sqlite_url(path)


def sqlite_schema(url: str) -> set[tuple[str, str, str]]:
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
    return {(kind, name, sql) for kind, name, sql in rows if name not in ("alembic_version", "alembic_version_pkc")}


def command(url: str, home: Path, *args: str) -> tuple[int, str]:
    """`offerdesk ARGS` against the database at `url`: its exit code, and what it said on stdout and stderr."""
    keys = home / "keys.json"
    ensure_keyring(keys)
    environ = {
        **os.environ,
        "OFFERDESK_HOME": str(home),
        "OFFERDESK_KEYS_FILE": str(keys),
        "OFFERDESK_DATABASE_URL": url,
        "COLUMNS": "250",
    }
    done = subprocess.run([OFFERDESK, *args], env=environ, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


# ---- migrations ------------------------------------------------------------------------------------


def test_the_revisions_the_code_knows_are_the_migrations_shipped() -> None:
    assert [s.revision for s in reversed(list(scripts().walk_revisions()))] == list(REVISIONS)
    assert scripts().get_current_head() == HEAD


def test_the_first_revision_makes_the_schema_of_the_code_before_migrations_word_for_word(tmp_path: Path) -> None:
    first = sqlite_url(tmp_path / "first.db")
    upgrade(first, "0001")
    assert sqlite_schema(first) == sqlite_schema(before_migrations(tmp_path))


@pytest.mark.parametrize("kind", KINDS)
def test_the_newest_revision_makes_the_tables_the_code_reads_and_writes(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = make_engine(fresh(kind, tmp_path, request), pooled=False)
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            for table in metadata.sorted_tables:
                # Names and which may be empty (SQLite calls its INTEGER PRIMARY KEY nullable: keys are left out).
                columns = {c["name"]: c["nullable"] for c in found.get_columns(table.name)}
                assert set(columns) == {c.name for c in table.columns}, table.name
                keys = {c.name for c in table.primary_key}
                assert {n: v for n, v in columns.items() if n not in keys} == {
                    c.name: c.nullable for c in table.columns if c.name not in keys
                }, table.name
    finally:
        engine.dispose()


def test_a_portal_db_made_before_migrations_upgrades_with_everything_kept(tmp_path: Path) -> None:
    url = before_migrations(tmp_path)
    code, said = command(url, tmp_path, "user", "list")
    assert code == 2 and "made before Offerdesk's migrations: run 'offerdesk db upgrade'" in said, said
    assert "Traceback" not in said
    code, said = command(url, tmp_path, "db", "current")
    assert code == 1 and "run 'offerdesk db upgrade'" in said, said
    code, said = command(url, tmp_path, "db", "upgrade")
    assert code == 0 and f"from nothing to revision {HEAD}" in said, said
    code, said = command(url, tmp_path, "db", "current")
    assert code == 0 and f"at revision {HEAD}, up to date" in said, said
    code, said = command(url, tmp_path, "db", "upgrade")
    assert code == 0 and "up to date" in said, said

    people = open_people(url)
    users = {u.name: u for u in people.users.all()}
    assert set(users) == {"Kenji", "ada", "sam"}
    assert (users["Kenji"].partner, users["Kenji"].email, users["ada"].reminders) == ("JP", "kenji@example.jp", False)
    assert users["Kenji"].created_at == datetime(2026, 12, 4, 18, 47, 19, 386001, tzinfo=UTC)
    assert people.users.check_password("kenji", "correct horse battery") is not None
    assert people.users.check_password("sam", "sam-long-password") is not None
    who = people.tokens.principal(KENJIS_TOKEN)
    assert who is not None and (who.name, who.role, who.partner) == ("Kenji", Role.NEGOTIATOR, "JP")
    assert [(t.user, t.label, t.revoked) for t in people.tokens.all()] == [
        ("Kenji", "upload script", False),
        ("sam", "old", True),
    ]
    session = people.sessions.principal(KENJIS_COOKIE)
    assert session is not None and session.csrf == "Gn4ZFdeRJJqlivIVIj38R5Eqj-yao-5V_tCaBKg79Hk"
    records = people.audit.records()
    assert [(r.seq, r.actor, r.action, r.outcome) for r in records] == [
        (3, "(unknown)", "sign in", "refused: bad password"),
        (2, "kenji", "read offer", "not found"),
        (1, "sam", "decide an escalation", "done"),
    ]
    assert records[2].at == datetime(2026, 12, 4, 18, 47, 21, 280600, tzinfo=UTC)
    inbox = people.notices.inbox("KENJI")
    assert [(e.kind, e.created_at.day, e.mailed_at is not None, e.mail_error) for e in inbox] == [
        (NoticeKind.LETTER_READY, 24, False, "550 no such mailbox"),
        (NoticeKind.DEFICIENT, 23, True, None),
    ]
    assert people.notices.claim(inbox[0].key, datetime.now(UTC) + timedelta(minutes=1), Holder("d", 1)) == "done"
    # What was recorded keeps going: the audit's numbering, and the failed sign-in (now a count).
    people.audit.record(Entry("sam", "staff", "download letter", "done", "r1", "JP"))
    assert people.audit.records(limit=1)[0].seq == 4
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        assert db.execute("SELECT key, failures FROM signin_throttle ORDER BY key").fetchall() == [
            ("account:ada", 1),
            ("address:192.0.2.7", 1),
        ]


def test_a_database_older_or_newer_than_the_code_is_refused_with_the_command_to_run(
    tmp_path: Path, settings: Settings
) -> None:
    url = sqlite_url(tmp_path / "portal.db")
    with pytest.raises(SchemaMismatch, match=r"no Offerdesk tables yet: run 'offerdesk db upgrade'$"):
        open_people(url)
    assert not (tmp_path / "portal.db").exists()  # looking made nothing
    upgrade(url, "0001")
    with pytest.raises(SchemaMismatch, match=r"at revision 0001, older .* run 'offerdesk db upgrade'$"):
        open_people(url)
    local = replace(settings, database_url=url)
    with pytest.raises(SchemaMismatch, match="run 'offerdesk db upgrade'"), worker_for(cast(Client, None), local):
        pass  # a worker refuses before it polls
    code, said = command(url, tmp_path, "portal")
    assert code == 2 and "older than this Offerdesk's" in said and "Traceback" not in said, said

    upgrade(url)
    with sqlite3.connect(tmp_path / "portal.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
    newer = "this database is newer than this Offerdesk: upgrade Offerdesk"
    with pytest.raises(SchemaMismatch, match=newer):
        open_people(url)
    with pytest.raises(SchemaMismatch, match=newer):
        upgrade(url)
    assert standing(url).state is State.AHEAD
    code, said = command(url, tmp_path, "token", "list")
    assert code == 2 and newer in said, said


def test_the_people_database_setting() -> None:
    home = Path("/srv/offerdesk")
    assert Settings.from_env({"OFFERDESK_HOME": str(home)}).database == f"sqlite:///{home}/portal.db"
    assert Settings.from_env({"OFFERDESK_PORTAL_DB": "/data/people.db"}).database == "sqlite:////data/people.db"
    pg = Settings.from_env({"OFFERDESK_DATABASE_URL": "postgresql://od:secret@db:5432/od"})
    assert pg.database == "postgresql://od:secret@db:5432/od" and not pg.embedded_database
    assert pg.database_pool_size == 5
    assert Settings.from_env({"OFFERDESK_DATABASE_POOL_SIZE": "12"}).database_pool_size == 12
    with pytest.raises(ValueError, match="OFFERDESK_DATABASE_URL is postgresql://") as wrong:
        Settings.from_env({"OFFERDESK_DATABASE_URL": "mysql://od:secret@db/od"})
    assert "secret" not in str(wrong.value)
    with pytest.raises(ValueError, match="between 1 and 100"):
        Settings.from_env({"OFFERDESK_DATABASE_POOL_SIZE": "0"})


def test_postgresql_keeps_times_as_timestamptz_and_hands_them_back_aware(postgres: Postgres) -> None:
    url = postgres.new_database()
    people = open_people(url)
    people.users.add("ada", Role.REVIEWER, PASSWORD)
    with people.database.begin() as db:
        kinds: dict[str, str] = dict(
            db.execute(
                text(
                    "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                    "WHERE column_name IN ('created_at', 'expires_at', 'at', 'revoked_at', 'mailed_at', 'last_at')"
                )
            ).all()
        )
    assert kinds and set(kinds.values()) == {"timestamp with time zone"}, kinds
    assert "signin_throttle.last_at" in kinds and "audit.at" in kinds
    created = people.users.get("ADA")
    assert created is not None and created.created_at.tzinfo is not None
    assert abs(created.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    close(url)


def test_postgresql_upgrades_the_first_revision_with_its_failed_sign_ins(postgres: Postgres) -> None:
    url = postgres.new_database(migrated=False)
    upgrade(url, "0001")
    engine = make_engine(url, pooled=False)
    try:
        with engine.begin() as db:
            db.execute(
                text("INSERT INTO signin_failures (key, at) VALUES ('account:ada', now()), ('account:ada', now())")
            )
        assert upgrade(url)[1].state is State.CURRENT
        with engine.begin() as db:
            assert db.execute(text("SELECT key, failures FROM signin_throttle")).all() == [("account:ada", 2)]
    finally:
        engine.dispose()


def test_the_audit_log_has_no_way_to_change_or_remove_a_record(project_root: Path) -> None:
    from offerdesk.people.audit import AuditLog

    assert {name for name in vars(AuditLog) if not name.startswith("_")} == {"record", "records"}
    changes = []
    for path in (project_root / "offerdesk").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("update", "delete")
                and any(isinstance(a, ast.Name) and a.id == "audit" for a in node.args)
            ):
                changes.append(f"{path}:{node.lineno}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                said = " ".join(node.value.upper().split())
                if "UPDATE AUDIT" in said or "DELETE FROM AUDIT" in said:
                    changes.append(f"{path}:{node.lineno}")
    assert changes == []


# ---- races the database settles ------------------------------------------------------------------


def at_once(count: int, work: Callable[[int], T]) -> list[T | Exception]:
    """`work(i)` for i < count, each in its own thread and connection, released together."""
    start = threading.Barrier(count)
    results: list[T | Exception] = [RuntimeError("did not run")] * count

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except Exception as e:
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


RACERS = 16


@pytest.fixture(params=KINDS)
def racing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    """Records with a pool as large as the racers, so each thread has a connection of its own."""
    url = fresh(str(request.param), tmp_path, request)
    yield open_people(url, pool_size=RACERS)
    close(url)


def test_attempts_at_once_get_no_more_tries_than_the_limit(racing: People) -> None:
    answers = at_once(3 * RACERS, lambda i: racing.throttle.attempt("ada", f"198.51.100.{i}"))
    assert not [a for a in answers if isinstance(a, Exception)], answers
    assert sum(1 for a in answers if a is None) == ACCOUNT_LIMIT
    refused = racing.throttle.throttled("ada", "203.0.113.9")
    assert refused is not None and refused.whom == "for ada"


def test_a_notice_filed_at_once_by_many_workers_is_one_entry_claimed_once(racing: People) -> None:
    notice = Notice(
        key="offer/r1/JP@run/deficient/1",
        kind=NoticeKind.DEFICIENT,
        round_id="r1",
        partner="JP",
        partner_name="Japan",
        at=datetime.now(UTC),
    )
    message = Message("subject", "text", "<p>html</p>", "http://portal/")
    key = notice.key + "/kenji"
    filed = at_once(RACERS, lambda i: racing.notices.file(key, "kenji", notice, message))
    assert filed == [None] * RACERS
    assert len(racing.notices.inbox("kenji")) == 1
    until = datetime.now(UTC) + timedelta(minutes=5)
    claims = at_once(RACERS, lambda i: racing.notices.claim(key, until, Holder(f"delivery-{i}", 1)))
    assert Counter(claims) == {"claimed": 1, "busy": RACERS - 1}


def test_tokens_revoked_at_once_are_revoked_once_and_none_outlives_its_user(racing: People) -> None:
    racing.users.add("bot", Role.NEGOTIATOR, PASSWORD, "VN")
    token = racing.tokens.create("bot", "script", "sam")
    revoked = at_once(RACERS, lambda i: racing.tokens.revoke(token.token_id))
    assert revoked.count(None) == 1
    assert all(isinstance(r, AccountError) and r.kind is Refusal.MISSING for r in revoked if r is not None)

    def create_or_remove(i: int) -> object:
        return racing.users.remove("bot") if i == RACERS // 2 else racing.tokens.create("bot", f"t{i}", "sam")

    made = at_once(RACERS, create_or_remove)
    assert not [m for m in made if isinstance(m, Exception) and not isinstance(m, AccountError)], made
    assert racing.tokens.all() == [] and racing.users.get("bot") is None


def test_a_name_taken_at_once_in_any_case_is_taken_once(racing: People) -> None:
    names = ["Kenji", "KENJI", "kenji", "kEnJi"] * 2  # fewer racers: each hashes a password first
    added = at_once(len(names), lambda i: racing.users.add(names[i], Role.STAFF, PASSWORD))
    assert sum(1 for a in added if not isinstance(a, Exception)) == 1
    assert all(a.kind is Refusal.EXISTS for a in added if isinstance(a, AccountError))
    assert len(racing.users.all()) == 1


def test_a_message_for_the_next_page_is_shown_by_one_page_only(racing: People) -> None:
    session = racing.sessions.start(racing.users.add("ada", Role.REVIEWER, PASSWORD))
    racing.sessions.flash(session.cookie, "approved")
    shown = at_once(RACERS, lambda i: racing.sessions.pop_flash(session.cookie))
    assert Counter(shown) == {"approved": 1, None: RACERS - 1}


# ---- the database away ---------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="session")
async def test_while_postgresql_is_away_every_answer_is_a_503_sentence_and_sessions_survive_it(
    env: WorkflowEnvironment, settings: Settings
) -> None:
    server = Postgres()  # a server of this test's own, to stop and start
    local = replace(settings, database_url=server.url("postgres"))
    try:
        server.start()
        local = replace(settings, database_url=server.new_database())
        async for portal in start_portal(env, local):
            staff = portal.user(Role.STAFF)
            client, csrf = await staff.browser_session()
            async with contextlib.aclosing(client), staff.api() as api:
                assert (await client.get("/notifications")).status_code == 200
                server.stop()
                answers = {
                    "page": await client.get("/notifications"),
                    "form": await client.post("/notifications/reminders", data={"reminders": "off", "csrf": csrf}),
                    "api": await api.get("/api/me"),
                    "api, by session": await client.get("/api/notifications"),
                }
                async with httpx.AsyncClient(base_url=portal.url) as stranger:
                    page = await stranger.get("/signin")
                    answers["sign in"] = await stranger.post(
                        "/signin",
                        data={"name": staff.name, "password": PASSWORD, "csrf": page.cookies["offerdesk_signin_csrf"]},
                        headers={"Cookie": f"offerdesk_signin_csrf={page.cookies['offerdesk_signin_csrf']}"},
                    )
                for what, answer in answers.items():
                    assert answer.status_code == 503, (what, answer.status_code, answer.text[:300])
                    said = html.unescape(answer.text)
                    assert "the portal's database cannot be reached now; try again in a moment" in said, what
                    assert "Traceback" not in answer.text and "OperationalError" not in answer.text, what
                assert answers["api"].json()["error"] == "DatabaseUnavailable"

                server.start()
                again = await client.get("/notifications")  # the same session, without signing in again
                assert again.status_code == 200 and staff.name in again.text
                assert (await api.get("/api/me")).status_code == 200
    finally:
        close(local.database)
        server.remove()
