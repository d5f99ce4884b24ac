"""/healthz and /readyz: over real HTTP against a real portal, and Temporal going away and coming back.

The checks' verdicts (which failures make a 503) are tested on a desk whose parts fail on demand, so they hold
whatever database the people's records live in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from activities.store import StoreUnavailableError
from offerdesk.config import Settings
from offerdesk.devserver import DevServer, free_port
from offerdesk.portal import health
from tests.portal import Portal, start_portal

pytestmark = pytest.mark.asyncio(loop_scope="session")
SECURITY_HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


def _has_security_headers(answer: httpx.Response) -> None:
    for name in SECURITY_HEADERS:
        assert name in answer.headers, (name, dict(answer.headers))
    assert answer.headers["cache-control"] == "no-store"


async def test_healthz_and_readyz_answer_anyone_with_the_usual_headers_and_are_never_audited(portal: Portal) -> None:
    before = portal.people.audit.records(limit=5)
    async with httpx.AsyncClient(base_url=portal.url, timeout=30) as client:  # no token, no session
        alive = await client.get("/healthz")
        ready = await client.get("/readyz")
        await asyncio.sleep(health.REUSE_S)
        again = await client.get("/readyz")
    assert alive.status_code == 200 and alive.json() == {"status": "alive"}
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready", body
    assert set(body["checks"]) == {"database", "temporal", "store", "worker"}
    assert all(c["status"] == "ok" and "reason" not in c for c in body["checks"].values()), body
    assert {n for n, c in body["checks"].items() if c["required"]} == {"database", "temporal"}
    assert again.status_code == 200
    for answer in (alive, ready, again):
        _has_security_headers(answer)
        assert answer.headers["content-type"] == "application/json"
    assert portal.people.audit.records(limit=5) == before, "a probe was audited"


async def _readiness(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    answer = await client.get("/readyz")
    _has_security_headers(answer)
    return answer.status_code, answer.json()


async def _until(client: httpx.AsyncClient, status: int, timeout: float) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        code, body = await _readiness(client)
        if code == status:
            return body
        if time.monotonic() > end:
            raise AssertionError(f"/readyz did not answer {status} within {timeout:g} s: {code} {body}")
        await asyncio.sleep(0.5)


async def test_readyz_is_503_while_temporal_is_away_and_ready_again_when_it_returns(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    # A dev server of the test's own (with its database on disk, so it comes back as it was), and a portal on it.
    port, ui_port = free_port(), free_port()
    server = DevServer(tmp_path / "temporal", port, ui_port)
    server.start()
    try:
        async for portal in start_portal(env, settings, TEMPORAL_ADDRESS=f"127.0.0.1:{port}"):
            async with httpx.AsyncClient(base_url=portal.url, timeout=30) as client:
                code, body = await _readiness(client)
                assert code == 200, body
                assert body["checks"]["temporal"]["status"] == "ok"
                # No worker polls this server: reported, but the portal still serves (200, degraded).
                assert body["status"] == "degraded" and body["checks"]["worker"]["status"] == "failed"
                assert "no worker" in body["checks"]["worker"]["reason"]

                server.stop()
                away = await _until(client, 503, 30)
                assert away["status"] == "unavailable"
                assert away["checks"]["temporal"] == {
                    "status": "failed",
                    "required": True,
                    "reason": away["checks"]["temporal"]["reason"],
                }
                assert "Temporal cannot be reached" in away["checks"]["temporal"]["reason"]
                assert str(port) not in away["checks"]["temporal"]["reason"], "an address in a public answer"
                assert away["checks"]["database"]["status"] == "ok"
                assert (await client.get("/healthz")).status_code == 200  # alive all along

                server.start()
                back = await _until(client, 200, 60)
                assert back["checks"]["temporal"]["status"] == "ok"
    finally:
        server.stop()


# ---- the verdicts, on a desk whose parts fail on demand -------------------------------------------------


class FakeDesk:
    """What /readyz touches of a desk: the people's users, and the engine's client, store and worker check."""

    def __init__(self) -> None:
        self.database: BaseException | None = None
        self.database_hangs = 0.0
        self.database_calls = 0
        self.temporal: BaseException | None = None
        self.store_error: BaseException | None = None
        self.worker = True
        self.people = SimpleNamespace(users=SimpleNamespace(get=self._get_user))
        service = SimpleNamespace(get_system_info=self._system_info)
        self.engine = SimpleNamespace(
            client=SimpleNamespace(workflow_service=service),
            store=SimpleNamespace(exists=self._exists),
            worker_running=self._worker_running,
            task_queue="offerdesk",
        )

    def _get_user(self, name: str) -> None:
        self.database_calls += 1
        if self.database_hangs:
            time.sleep(self.database_hangs)
        if self.database is not None:
            raise self.database

    async def _system_info(self, *args: object, **kwargs: object) -> None:
        if self.temporal is not None:
            raise self.temporal

    def _exists(self, *args: object) -> bool:
        if self.store_error is not None:
            raise self.store_error
        return False

    async def _worker_running(self) -> bool:
        return self.worker


@pytest_asyncio.fixture(loop_scope="session")
async def probed(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeDesk, httpx.AsyncClient]]:
    monkeypatch.setattr(health, "REUSE_S", 0.0)
    app = FastAPI()
    app.include_router(health.router)
    desk = FakeDesk()
    app.state.desk = desk
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as client:
        yield desk, client


class DriverError(Exception):
    pass


async def test_the_database_away_is_503_with_a_sentence_that_names_no_address(
    probed: tuple[FakeDesk, httpx.AsyncClient],
) -> None:
    desk, client = probed
    desk.database = DriverError('connection to server at "10.0.0.5", port 5432 failed: password for "offerdesk"')
    answer = await client.get("/readyz")
    assert answer.status_code == 503
    database = answer.json()["checks"]["database"]
    assert database == {
        "status": "failed",
        "required": True,
        "reason": "the people's records cannot be read (DriverError)",
    }
    desk.database = None
    assert (await client.get("/readyz")).status_code == 200


async def test_no_worker_or_no_store_is_reported_but_still_ready_to_serve(
    probed: tuple[FakeDesk, httpx.AsyncClient],
) -> None:
    desk, client = probed
    desk.worker = False
    desk.store_error = StoreUnavailableError("cannot read from the store at s3://secret-bucket (endpoint http://...)")
    answer = await client.get("/readyz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "degraded"
    assert body["checks"]["worker"] == {
        "status": "failed",
        "required": False,
        "reason": "no worker has polled task queue 'offerdesk' lately",
    }
    assert body["checks"]["store"] == {
        "status": "failed",
        "required": False,
        "reason": "the document store cannot be reached (StoreUnavailableError)",
    }
    assert "secret-bucket" not in answer.text


async def test_temporal_away_is_503_and_the_worker_is_then_unknown(probed: tuple[FakeDesk, httpx.AsyncClient]) -> None:
    desk, client = probed
    desk.temporal = RuntimeError("Failed client connect")
    desk.worker = False
    body = (await client.get("/readyz")).json()
    assert body["status"] == "unavailable"
    assert body["checks"]["temporal"]["reason"] == "Temporal cannot be reached (RuntimeError)"
    assert body["checks"]["worker"]["reason"] == "unknown while Temporal is away"


async def test_a_hanging_database_answers_within_the_timeout_and_holds_one_thread(
    probed: tuple[FakeDesk, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    desk, client = probed
    monkeypatch.setattr(health, "CHECK_TIMEOUT_S", 0.2)
    desk.database_hangs = 1.5
    started = time.monotonic()
    answers = [await client.get("/readyz") for _ in range(4)]
    assert time.monotonic() - started < 1.5
    assert {a.status_code for a in answers} == {503}
    assert answers[0].json()["checks"]["database"]["reason"] == "no answer within 0.2 s"
    assert desk.database_calls == 1, "a check still running was started again"
    await asyncio.sleep(1.5)
    desk.database_hangs = 0
    assert (await client.get("/readyz")).status_code == 200


async def test_the_endpoints_are_in_the_api_description() -> None:
    app = FastAPI()
    app.include_router(health.router)
    paths = app.openapi()["paths"]
    assert "/healthz" in paths and "/readyz" in paths
    assert "503" in paths["/readyz"]["get"]["responses"]
