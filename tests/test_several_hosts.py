"""Offerdesk on several hosts: workers and portals each with an OFFERDESK_HOME of their own, sharing only the
Temporal server, an S3 store (moto), a copy of the keyring and (to come) the database URL (tests/hosts.py).

A worker killed with SIGKILL mid-round loses nothing, a worker stopped with SIGTERM mid-render finishes its letter,
and every host's portal is ready against the shared services. What needs the people's records on one database
server (a session made on one portal working on the other, failed sign-ins counted across both, one audit log,
each notice filed once, /readyz going 503 and back with the database) comes with OFFERDESK_DATABASE_URL: give
`Installation` the URL and the portals and workers here share it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.store import Kind
from activities.store.s3 import S3Store
from offerdesk.config import Settings
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.offer_state import OfferState
from schemas.review import Approve
from schemas.round import RoundSpec
from tests.conftest import round_spec
from tests.hosts import Installation, host_portal
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


def installation(env: WorkflowEnvironment, settings: Settings, s3: S3Server, queue: str) -> Installation:
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
        extra={"OFFERDESK_RENDER_PROCESSES": "1"},  # one letter at a time each: which worker has which is known
    )


async def test_two_worker_hosts_lose_nothing_when_one_is_killed_and_the_other_drains(
    env: WorkflowEnvironment, settings: Settings, s3: S3Server, tmp_path: Path, closing: list[RoundSpec]
) -> None:
    shared = installation(env, settings, s3, f"hosts-{tmp_path.name}")
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
    # No host kept a document or a letter of its own: everything is in the bucket.
    for host in ("a", "b", "p1", "p2"):
        home = tmp_path / host / "home"
        assert not (home / "store").exists() and not (home / "letters").exists(), host
