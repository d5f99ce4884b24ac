"""Offerdesk on several hosts: workers and portals each with an OFFERDESK_HOME of their own, sharing only the
Temporal server, an S3 store (moto), a copy of the keyring and the database URL, a PostgreSQL server of the
tests' own (tests/hosts.py, tests/postgres.py).

A session made on one portal works on the other, failed sign-ins count across both, there is one audit log, a
worker killed with SIGKILL mid-round loses nothing, a worker stopped with SIGTERM mid-render finishes its letter,
each notice is filed once, and with the database stopped and started again /readyz goes 503 and back.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.store import Kind
from activities.store.s3 import S3Store
from offerdesk.config import Settings
from offerdesk.engine import Engine
from offerdesk.people import People, open_people
from offerdesk.people.throttle import ACCOUNT_LIMIT
from offerdesk.samples import sample_offer
from schemas.offer_state import OfferState
from schemas.portal import Role
from schemas.review import Approve
from schemas.round import RoundSpec
from tests.conftest import round_spec
from tests.hosts import Installation, host_portal
from tests.portal import PASSWORD
from tests.postgres import Postgres
from tests.s3server import CREDENTIALS, S3Server, s3_server
from tests.workers import eventually, render_attempts, running, start_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")
PREFIX = "offerdesk"
PARTNERS = ["JP", "KR", "VN", "IN"]
WAIT = timedelta(seconds=120)


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


def installation(
    env: WorkflowEnvironment, settings: Settings, s3: S3Server, queue: str, database_url: str
) -> Installation:
    return Installation(
        temporal_address=env.client.service_client.config.target_host,
        store_url=f"s3://{s3.new_bucket()}/{PREFIX}",
        aws={
            "AWS_ENDPOINT_URL": s3.endpoint,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": CREDENTIALS["region_name"],
        },
        keyring=settings.keys_file,
        task_queue=queue,
        database_url=database_url,
        extra={"OFFERDESK_RENDER_PROCESSES": "1"},  # one letter at a time each: which worker has which is known
    )


async def signed_in(portal: str, name: str, password: str) -> httpx.Response:
    """A sign-in through the portal's form, as a browser sends it."""
    async with httpx.AsyncClient(base_url=portal, timeout=30) as client:
        csrf = (await client.get("/signin")).cookies["offerdesk_signin_csrf"]
        return await client.post(
            "/signin",
            data={"name": name, "password": password, "csrf": csrf, "next": "/"},
            headers={"Cookie": f"offerdesk_signin_csrf={csrf}"},
        )


async def readiness(portal: str) -> int:
    async with httpx.AsyncClient(base_url=portal, timeout=30) as client:
        return (await client.get("/readyz")).status_code


async def portals_share_one_database(p1: str, p2: str, people: People, postgres: Postgres) -> None:
    """A session made on one portal works on the other; failed sign-ins count across both, in one audit log;
    with the database stopped, both say they are not ready, and both recover when it is back."""
    people.users.add("rita", Role.REVIEWER, PASSWORD)
    answer = await signed_in(p1, "rita", PASSWORD)
    assert answer.status_code == 303, answer.text
    cookie = answer.cookies["offerdesk_session"]
    async with httpx.AsyncClient(base_url=p2, timeout=30, headers={"Cookie": f"offerdesk_session={cookie}"}) as c:
        me = await c.get("/api/me")
    assert me.status_code == 200 and me.json()["name"] == "rita", me.text

    people.users.add("walt", Role.REVIEWER, PASSWORD)
    tries = [await signed_in((p1, p2)[n % 2], "walt", "wrong password") for n in range(ACCOUNT_LIMIT)]
    assert [t.status_code for t in tries] == [401] * ACCOUNT_LIMIT
    assert (await signed_in(p2, "walt", PASSWORD)).status_code == 429  # five failures on two portals: throttled
    refused = [r for r in people.audit.records() if r.actor == "walt" and r.action == "sign in"]
    assert len(refused) == ACCOUNT_LIMIT + 1, refused  # one log: the failures on both portals, and the throttling

    postgres.stop()
    try:
        await eventually_async(lambda: all_equal(readiness, (p1, p2), 503), 30, "both portals not ready")
    finally:
        postgres.start()
    await eventually_async(lambda: all_equal(readiness, (p1, p2), 200), 60, "both portals ready again")
    async with httpx.AsyncClient(base_url=p1, timeout=30, headers={"Cookie": f"offerdesk_session={cookie}"}) as c:
        assert (await c.get("/api/me")).status_code == 200  # the session outlived the database's absence


async def all_equal(check: Callable[[str], Awaitable[int]], portals: tuple[str, ...], expected: int) -> bool:
    return all([await check(p) == expected for p in portals])


async def eventually_async(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.5)


async def test_hosts_share_only_temporal_the_store_the_database_and_a_keyring(
    env: WorkflowEnvironment,
    settings: Settings,
    s3: S3Server,
    postgres: Postgres,
    tmp_path: Path,
    closing: list[RoundSpec],
) -> None:
    database_url = postgres.new_database()
    shared = installation(env, settings, s3, f"hosts-{tmp_path.name}", database_url)
    people = open_people(database_url)
    people.users.add("sam", Role.REVIEWER, PASSWORD)  # told of every offer in review: the notices to count
    bucket = shared.store_url.removeprefix("s3://").split("/")[0]
    # This test's own client plays the portal's part: the same Temporal, keyring and bucket, no folder shared.
    engine = Engine(env.client, S3Store(bucket, PREFIX, client=s3.client()), task_queue=shared.task_queue)
    spec = round_spec(PARTNERS, approvals=1)
    closing.append(spec)
    rid = spec.round_id

    a = await start_worker(env.client, shared.host(tmp_path / "a"), tmp_path / "a")
    b = await start_worker(env.client, shared.host(tmp_path / "b"), tmp_path / "b")
    replacement = None
    try:
        async with (
            host_portal(shared.host(tmp_path / "p1"), tmp_path / "p1") as p1,
            host_portal(shared.host(tmp_path / "p2"), tmp_path / "p2") as p2,
        ):
            for url in (p1, p2):  # each portal reaches the database, Temporal, the bucket, and sees the workers
                async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                    ready = await client.get("/readyz")
                assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
            await portals_share_one_database(p1, p2, people, postgres)

        await engine.open_round(spec)
        for partner in PARTNERS:
            await engine.submit(sample_offer(rid, partner, lines=40, seed=5), by="negotiator")
        for partner in PARTNERS:
            await engine.approve(rid, partner, Approve(reviewer="Ada"))
        # Each worker renders one letter (held at its gate); the other two wait on the task queue.
        await eventually(lambda: len(a.started()) == 1 and len(b.started()) == 1, 60, "a letter on each worker")
        [killed] = a.started()
        [drained] = b.started()
        family = a.descendants()

        # Host a dies mid-letter: its render process goes with it.
        a.signal(signal.SIGKILL)
        await asyncio.wait_for(a.process.wait(), 10)
        await eventually(lambda: not running(family), 5, f"host a's render processes ending: {running(family)}")

        # Host b is told to stop mid-render: it finishes that letter, takes no other, and exits 0.
        b.signal(signal.SIGTERM)
        await asyncio.sleep(1.0)
        assert b.process.returncode is None, "host b left before its letter was rendered"
        b.release()
        assert await asyncio.wait_for(b.process.wait(), 60) == 0, b.log.read_text()[-3000:]
        assert list(b.started()) == [drained], "a draining worker took another letter"
        assert await render_attempts(env.client, rid, drained) == [(1, "completed")]

        # Host a comes back (its home holds only the keyring); every letter is issued.
        replacement = await start_worker(env.client, shared.host(tmp_path / "a"), tmp_path / "a2", gated=False)
        cards = {p: await engine.wait_for(rid, p, {OfferState.LETTER_ISSUED}, timeout=WAIT) for p in PARTNERS}
        assert await replacement.stop() == 0
    finally:
        for worker in (a, b, replacement):
            if worker is not None:
                await worker.stop()

    for partner, card in cards.items():
        assert [v.number for v in card.versions] == [1], partner
        assert card.letter is not None and card.letter.pages >= 1
        assert engine.store.get(Kind.LETTER, card.letter.letter_id)[:4] == b"%PDF"
    # The killed worker's letter lost an attempt (its heartbeat stopped), never the letter.
    assert await render_attempts(env.client, rid, killed) == [(2, "completed")]
    assert await render_attempts(env.client, rid, drained) == [(1, "completed")]
    # Each notice was filed once for sam, whichever worker sent it and however often it was tried.
    inbox = people.notices.inbox("sam")
    assert len(inbox) >= len(PARTNERS) and len({e.key for e in inbox}) == len(inbox), inbox
    # No host kept a document or a letter of its own: everything is in the bucket.
    for host in ("a", "b", "p1", "p2"):
        home = tmp_path / host / "home"
        assert not (home / "store").exists() and not (home / "letters").exists(), host
