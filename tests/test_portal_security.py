"""The portal's hardening: sign-in throttling, the audit of refusals, security headers, token revocation, and one
404 sentence for negotiators. The arithmetic is tested directly; the rest against a real portal over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import Request, Response

from offerdesk.config import Settings
from offerdesk.engine import Engine
from offerdesk.people import open_people
from offerdesk.people.throttle import WINDOW, Throttled, backoff, lock_after
from offerdesk.portal.app import create_app
from offerdesk.portal.limits import MAX_BODY_BYTES
from offerdesk.portal.security import CSP
from schemas.portal import AuditRecord, Role
from tests.conftest import new_round_id
from tests.portal import PASSWORD, Portal, User, offer_in

OFFER = "/api/rounds/{r}/offers/{p}"
T0 = datetime(2026, 11, 23, 14, 0, 0, tzinfo=UTC)


# ---- the arithmetic, directly ------------------------------------------------------------------


def test_backoff_starts_at_the_limit_with_30_s_and_doubles_up_to_15_minutes() -> None:
    assert [backoff(n, 5).total_seconds() for n in range(4, 12)] == [0, 30, 60, 120, 240, 480, 900, 900]
    assert backoff(10_000, 5) == timedelta(minutes=15)
    assert backoff(19, 20) == timedelta(0) and backoff(20, 20) == timedelta(seconds=30)


def test_the_wait_starts_at_the_failure_that_reaches_the_limit() -> None:
    assert lock_after(4, 5, T0) is None
    assert lock_after(5, 5, T0) == T0 + timedelta(seconds=30)
    assert lock_after(6, 5, T0) == T0 + timedelta(seconds=60)
    assert lock_after(99, 5, T0) == T0 + timedelta(minutes=15)


def test_the_throttle_sentence_says_when_to_try_again() -> None:
    throttled = Throttled("for ada", T0 + timedelta(seconds=30), T0)
    assert throttled.retry_after == 30
    assert throttled.message == "too many failed sign-ins for ada; try again in 30 s (at 14:00:30 UTC)"
    assert "in 2 min 5 s" in Throttled("from 192.0.2.7", T0 + timedelta(seconds=125), T0).message


# ---- the state in the portal database (SQLite, or PostgreSQL with OFFERDESK_TEST_DATABASE=postgresql) --------


def test_failures_are_kept_in_the_database_and_a_right_password_clears_the_accounts(database: str) -> None:
    for i in range(5):
        assert open_people(database).throttle.attempt("Ada", "192.0.2.7", T0 + timedelta(seconds=i)) is None
    again = open_people(database).throttle  # another process, or the portal after a restart
    throttled = again.attempt("ada", "198.51.100.1", T0 + timedelta(seconds=10))
    assert throttled is not None and throttled.whom == "for ada" and throttled.retry_after == 24
    assert again.throttled("ada", "198.51.100.1", T0 + timedelta(seconds=10)) == throttled
    assert again.attempt("grace", "198.51.100.1", T0 + timedelta(seconds=10)) is None
    again.succeeded("ADA", "198.51.100.1")
    assert again.attempt("ada", "198.51.100.1", T0 + timedelta(seconds=11)) is None


def test_the_wait_doubles_from_the_latest_failure_and_a_quiet_window_forgets(database: str) -> None:
    throttle = open_people(database).throttle

    def attempt(seconds: float) -> int | None:
        """Seconds to wait, or None when the attempt is counted and goes on to its password."""
        refused = throttle.attempt("ada", "192.0.2.7", T0 + timedelta(seconds=seconds))
        return refused.retry_after if refused else None

    assert [attempt(i) for i in range(5)] == [None] * 5
    assert attempt(5) == 29  # 30 s from the fifth failure; the refused attempt is not counted
    assert attempt(34) is None  # waited it out: the sixth failure doubles the wait
    assert attempt(40) == 54
    quiet = 34 + WINDOW.total_seconds() + 1
    assert [attempt(quiet + i) for i in range(5)] == [None] * 5  # counting from one again
    assert attempt(quiet + 5) == 29


def test_one_address_trying_many_names_is_throttled_too(database: str) -> None:
    throttle = open_people(database).throttle
    for i in range(20):
        assert throttle.attempt(f"name{i}", "192.0.2.7", T0 + timedelta(seconds=i)) is None
    throttled = throttle.attempt("someone-new", "192.0.2.7", T0 + timedelta(seconds=20))
    assert throttled is not None and throttled.whom == "from 192.0.2.7"
    assert throttle.attempt("someone-new", "192.0.2.8", T0 + timedelta(seconds=20)) is None


def test_a_right_password_gives_the_address_its_attempt_back(database: str) -> None:
    throttle = open_people(database).throttle
    for i in range(25):  # an office behind one address: 25 people sign in within a minute
        assert throttle.attempt(f"person{i}", "192.0.2.7", T0 + timedelta(seconds=i)) is None
        throttle.succeeded(f"person{i}", "192.0.2.7")
    assert throttle.throttled("anyone", "192.0.2.7", T0 + timedelta(seconds=30)) is None


def test_a_new_password_or_removal_revokes_the_users_tokens(database: str) -> None:
    people = open_people(database)
    people.users.add("bot", Role.NEGOTIATOR, "long enough", "VN")
    first, second = people.tokens.create("bot", "a", "sam"), people.tokens.create("bot", "b", "sam")
    assert people.users.set_password("bot", "another long one") == 2
    assert people.tokens.principal(first.token) is None and people.tokens.principal(second.token) is None
    third = people.tokens.create("bot", "c", "sam")
    assert people.users.remove("bot") == 1
    assert people.tokens.principal(third.token) is None and people.tokens.all() == []


# ---- over HTTP -----------------------------------------------------------------------------------

live = pytest.mark.asyncio(loop_scope="session")


async def signin(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    page = await client.get("/signin")
    csrf = page.cookies["offerdesk_signin_csrf"]
    return await client.post(
        "/signin",
        data={"name": name, "password": password, "csrf": csrf, "next": "/"},
        headers={"Cookie": f"offerdesk_signin_csrf={csrf}"},
    )


def records(portal: Portal, actor: str) -> list[AuditRecord]:
    return [r for r in portal.people.audit.records(limit=5000) if r.actor == actor]


@live
async def test_five_failed_sign_ins_throttle_the_account_even_for_the_right_password(portal: Portal) -> None:
    user = portal.user(Role.REVIEWER)
    async with httpx.AsyncClient(base_url=portal.url) as client:
        for _ in range(5):
            assert (await signin(client, user.name, "not the password")).status_code == 401
        refused = await signin(client, user.name, PASSWORD)
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["Retry-After"]) <= 30
        assert f"too many failed sign-ins for {user.name}; try again in" in refused.text and "UTC)" in refused.text
        other = portal.user(Role.REVIEWER)  # the same address, another account: still welcome
        assert (await signin(client, other.name, PASSWORD)).status_code == 303
    outcomes = [r.outcome for r in reversed(records(portal, user.name))]
    assert outcomes == ["refused: bad password"] * 5 + ["refused: throttled"]
    assert all(r.detail == "from 127.0.0.1" for r in records(portal, user.name))


@live
async def test_sign_in_and_sign_out_are_audited(portal: Portal) -> None:
    user = portal.user(Role.STAFF)
    client, csrf = await user.browser_session()
    async with contextlib.aclosing(client):
        assert (await client.post("/signout", data={"csrf": csrf})).status_code == 303
    assert [(r.action, r.outcome) for r in reversed(records(portal, user.name))] == [
        ("sign in", "done"),
        ("sign out", "done"),
    ]


@live
async def test_refused_tokens_are_audited_by_id_and_never_by_secret(portal: Portal) -> None:
    user = portal.user(Role.STAFF)
    token_id = user.token.split("_")[1]
    portal.people.tokens.revoke(token_id)
    garbage = f"not-a-token-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=portal.url) as client:
        revoked = await client.get("/api/me", headers={"Authorization": f"Bearer {user.token}"})
        unknown = await client.get("/api/me", headers={"Authorization": f"Bearer {garbage}"})
    assert revoked.status_code == unknown.status_code == 401
    by_id = records(portal, f"token {token_id}")
    assert [(r.action, r.outcome) for r in by_id] == [("use API token", "refused: unknown or revoked token")]
    everything = " ".join(f"{r.actor} {r.detail}" for r in portal.people.audit.records(limit=5000))
    assert user.token.split("_", 2)[2] not in everything and garbage not in everything
    assert any(r.actor == "(unknown)" and r.action == "use API token" for r in portal.people.audit.records(limit=50))


@live
async def test_forbidden_and_not_found_reads_are_audited_once(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "INVITED", ["BR", "AR"])
    reviewer, negotiator = portal.user(Role.REVIEWER), portal.user(Role.NEGOTIATOR, "BR")
    async with reviewer.api() as api:
        assert (await api.get(f"/api/rounds/{rid}")).status_code == 403
    async with negotiator.api() as api:
        assert (await api.get(OFFER.format(r=rid, p="AR"))).status_code == 404
    client, _ = await negotiator.browser_session()
    async with contextlib.aclosing(client):
        assert (await client.get(f"/rounds/{rid}/offers/AR")).status_code == 404
    forbidden = records(portal, reviewer.name)
    assert [(r.action, r.outcome, r.round_id) for r in forbidden] == [("see a round's dashboard", "forbidden", rid)]
    assert "a reviewer may not see a round's dashboard" in forbidden[0].detail
    not_found = [(r.action, r.outcome, r.round_id, r.partner) for r in records(portal, negotiator.name)]
    assert not_found.count(("read offer", "not found", rid, "AR")) == 2  # the API's read, then the page's


@live
async def test_reads_of_an_offers_content_and_refused_administration_are_audited(
    portal: Portal, engine: Engine
) -> None:
    rid = await offer_in(engine, "UNDER_REVIEW", ["LS"])
    staff, reviewer = portal.user(Role.STAFF), portal.user(Role.REVIEWER)
    offer = OFFER.format(r=rid, p="LS")
    async with staff.api() as api:
        assert (await api.get(offer + "/lines", params={"page": 1})).status_code == 200
        assert (await api.get(offer + "/diff")).status_code == 409  # one version: nothing to compare
        assert (await api.get(offer + "/versions/1/export.csv")).status_code == 200
        assert (await api.get(offer + "/versions/7/export.json")).status_code == 404
        assert (await api.get(f"/api/rounds/{rid}/report.csv")).status_code == 200
        assert (await api.get(offer)).status_code == 200  # the status: read all the time, not recorded
        assert (await api.post("/api/tokens", json={"user": "nobody-at-all"})).status_code == 404
    async with reviewer.api() as api:
        assert (await api.get(f"/api/rounds/{rid}/report")).status_code == 403
        assert (await api.get("/api/users")).status_code == 403
        assert (await api.post("/api/tokens", json={"user": reviewer.name})).status_code == 403
    done = [(r.action, r.outcome, r.round_id, r.detail) for r in reversed(records(portal, staff.name))]
    assert [d[:3] for d in done] == [
        ("read an offer's lines", "done", rid),
        ("compare versions", "refused", rid),
        ("export an offer", "done", rid),
        ("export an offer", "not found", rid),
        ("read a round's report", "done", rid),
        ("create API token", "refused", None),
    ]
    details = [d[3] for d in done]
    assert details[0] == "version 1, page 1" and "no earlier version to compare" in details[1]
    assert details[2] == "version 1 as csv" and details[3].startswith("version 7 as json ")
    assert details[4] == "as csv" and "there is no user nobody-at-all" in details[5]
    refused = [(r.action, r.outcome) for r in reversed(records(portal, reviewer.name))]
    assert refused == [
        ("read a round's report", "forbidden"),
        ("manage users and API tokens", "forbidden"),
        ("create API token", "forbidden"),
    ]


def assert_security_headers(answer: httpx.Response, no_store: bool = True) -> None:
    where = f"{answer.request.method} {answer.request.url.path} ({answer.status_code})"
    assert answer.headers.get("content-security-policy") == CSP, where
    assert "'unsafe-inline'" not in answer.headers["content-security-policy"]
    assert answer.headers.get("x-frame-options") == "DENY", where
    assert answer.headers.get("x-content-type-options") == "nosniff", where
    assert answer.headers.get("referrer-policy") == "same-origin", where
    if no_store:
        assert answer.headers.get("cache-control") == "no-store", where


@live
async def test_every_answer_carries_the_security_headers(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "LETTER_ISSUED", ["AU"], approvals=1)
    staff = portal.user(Role.STAFF)
    async with staff.api() as api:
        assert_security_headers(await api.get("/api/me"))
        letter = await api.get(OFFER.format(r=rid, p="AU") + "/letter")
        assert letter.status_code == 200 and letter.headers["content-type"] == "application/pdf"
        assert_security_headers(letter)
        assert_security_headers(await api.get(f"/api/rounds/{rid}/letters.zip"))
        assert_security_headers(await api.get("/api/rounds/no-such-round"))  # refusals too
    client, _ = await staff.browser_session()
    async with contextlib.aclosing(client):
        page = await client.get(f"/rounds/{rid}")
        assert page.status_code == 200 and "<html" in page.text
        assert_security_headers(page)
        assert_security_headers(await client.get(f"/rounds/{rid}/offers/AU/letter"))
        assert_security_headers(await client.get("/signin"))
        css = await client.get("/static/portal.css")
        assert_security_headers(css, no_store=False)
        assert "no-store" not in css.headers.get("cache-control", "")
        for docs in ("/docs", "/redoc"):  # the same policy as every page: no CDN, no inline script
            answer = await client.get(docs)
            assert answer.status_code == 200
            assert_security_headers(answer)


BOUNDARY = "b0undary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


@live
async def test_every_kind_of_refusal_and_framework_error_carries_the_security_headers(
    portal: Portal, engine: Engine
) -> None:
    """Each kind of answer the portal gives besides a success, from each place that gives one: the routes' refusals,
    FastAPI's validation and parsing, the router's 404 and 405, the body caps' middleware, the codec endpoint."""
    rid = await offer_in(engine, "UNDER_REVIEW", ["TN"])
    offer = OFFER.format(r=rid, p="TN")
    staff, reviewer = portal.user(Role.STAFF), portal.user(Role.REVIEWER)
    deep = b"[" * 50_000 + b"]" * 50_000
    json_type = {"Content-Type": "application/json"}
    async with staff.api() as api, reviewer.api() as reviewing:
        answers = {
            "unknown API route": (404, await api.get("/api/no-such-thing")),
            "unknown page": (404, await api.get("/no-such-page")),
            "unknown offer": (404, await api.get(OFFER.format(r=rid, p="FJ"))),
            "method not allowed": (405, await api.put("/api/me")),
            "method not allowed on a page": (405, await api.delete("/signin")),
            "missing field": (422, await api.post("/api/tokens", json={})),
            "wrong type": (422, await api.get(offer + "/lines", params={"page": "first"})),
            "broken JSON": (422, await api.post("/api/tokens", content=b'{"user": ', headers=json_type)),
            "broken document": (422, await api.post(offer + "/versions", content=b"{,}", headers=json_type)),
            "broken multipart": (400, await api.post(offer + "/versions/upload", content=b"--x", headers=MULTIPART)),
            "deep JSON": (422, await api.post(offer + "/comments", content=deep, headers=json_type)),
            "deep JSON to the codec": (422, await api.post("/codec/decode", content=deep, headers=json_type)),
            "declared too large": (413, await api.post("/api/tokens", content=b"x" * (2 * MAX_BODY_BYTES))),
            "streamed too large": (413, await api.post("/api/tokens", content=streamed(2 * MAX_BODY_BYTES))),
            "state does not allow it": (409, await api.get(offer + "/diff")),
            "forbidden": (403, await reviewing.get(f"/api/rounds/{rid}")),
            "not signed in": (401, await api.get("/api/me", headers={"Authorization": "Bearer od_nope_nope"})),
            "codec without a caller": (401, await api.post("/codec/decode", json={}, headers={"Authorization": ""})),
            "codec preflight": (204, await api.options("/codec/decode")),
        }
    async with httpx.AsyncClient(base_url=portal.url) as anyone:
        answers["a page, signed out"] = (303, await anyone.get(f"/rounds/{rid}"))
        answers["a form missing a field"] = (422, await anyone.post("/signin", data={"name": "x"}))
        missing_asset = await anyone.get("/static/docs/no-such-file.js")
    for what, (status, answer) in answers.items():
        assert answer.status_code == status, f"{what}: {answer.status_code} {answer.text[:300]}"
        assert_security_headers(answer)
    assert missing_asset.status_code == 404
    assert_security_headers(missing_asset, no_store=False)
    assert "more than 64 levels deep" in answers["deep JSON to the codec"][1].json()["message"]
    assert answers["method not allowed"][1].headers["allow"] == "GET"  # RFC 9110: a 405 says what is allowed
    assert answers["method not allowed on a page"][1].headers["allow"] == "GET, POST"  # every route's, not the first


async def streamed(size: int) -> AsyncIterator[bytes]:
    """A body without Content-Length, in parts."""
    for _ in range(0, size, 64 * 1024):
        yield b"x" * (64 * 1024)


def test_a_500_and_a_failing_500_handler_carry_the_security_headers(tmp_path: Path, database: str) -> None:
    """A route that raises: the portal's own 500 (a page, or JSON under /api), and the answer of last resort when
    the 500 handler fails too. Starlette answers both outside every middleware added the usual way."""
    app = create_app(Settings.from_env({"OFFERDESK_HOME": str(tmp_path), "OFFERDESK_DATABASE_URL": database}))

    @app.get("/boom")
    @app.get("/api/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
            page, api = await client.get("/boom"), await client.get("/api/boom")

            async def failing(request: Request, exc: Exception) -> Response:
                raise LookupError("the handler has a bug too")

            app.add_exception_handler(Exception, failing)
            app.middleware_stack = None  # rebuilt on the next request, with the failing handler
            last = await client.get("/api/boom")
        return [page, api, last]

    page, api, last = asyncio.run(run())
    for answer in (page, api, last):
        assert answer.status_code == 500
        assert_security_headers(answer)
    assert "<html" in page.text and "something went wrong on our side" in page.text
    assert api.json() == {
        "error": "InternalError",
        "message": "something went wrong on our side; it has been logged",
        "fields": [],
    }
    assert last.json() == api.json()


@live
async def test_a_new_password_or_removal_stops_the_users_api_tokens(portal: Portal) -> None:
    changed, removed = portal.user(Role.STAFF), portal.user(Role.STAFF)
    for user in (changed, removed):
        async with user.api() as api:
            assert (await api.get("/api/me")).status_code == 200
    assert portal.people.users.set_password(changed.name, "a brand new password") == 1
    assert portal.people.users.remove(removed.name) == 1
    for user in (changed, removed):
        async with user.api() as api:
            answer = await api.get("/api/me")
        assert answer.status_code == 401 and "revoked" in answer.json()["message"]


async def negotiator_404s(user: User, urls: list[str]) -> list[tuple[int, str]]:
    async with user.api() as api:
        return [((a := await api.get(url)).status_code, a.text) for url in urls]


@live
async def test_a_negotiator_gets_one_404_sentence_whatever_is_missing(portal: Portal, engine: Engine) -> None:
    mine = await offer_in(engine, "INVITED", ["FJ", "IL"])
    not_invited = await offer_in(engine, "INVITED", ["IL"])
    negotiator = portal.user(Role.NEGOTIATOR, "FJ")
    places = [
        (new_round_id("ghost"), "FJ"),  # the round does not exist
        (not_invited, "FJ"),  # the round exists, FJ was not invited
        (mine, "IL"),  # another partner's offer
        (new_round_id("ghost"), "IL"),  # another partner in a round that does not exist
    ]
    api = await negotiator_404s(negotiator, [OFFER.format(r=r, p=p) for r, p in places])
    assert {status for status, _ in api} == {404}
    assert len({body for _, body in api}) == 1, api
    assert "there is no offer here that you can see" in api[0][1] and '"error":"NotFound"' in api[0][1]
    assert "invited" not in api[0][1].lower() and "IL" not in api[0][1]
    letters = await negotiator_404s(negotiator, [OFFER.format(r=r, p=p) + "/letter" for r, p in places])
    assert {body for _, body in letters} == {api[0][1]}
    client, _ = await negotiator.browser_session()
    async with contextlib.aclosing(client):
        pages = [await client.get(f"/rounds/{r}/offers/{p}") for r, p in places]
    assert {p.status_code for p in pages} == {404}
    assert all("there is no offer here that you can see" in p.text and "invited" not in p.text for p in pages)
    staff = portal.user(Role.STAFF)  # staff still hear what is missing
    async with staff.api() as staff_api:
        answer = await staff_api.get(OFFER.format(r=not_invited, p="FJ"))
    assert answer.status_code == 404 and answer.json()["error"] == "NotInvited"
