"""`offerdesk worker` as a process: it drains on SIGTERM, and its render processes end with it, even on SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from offerdesk.worker import worker_for
from schemas.offer_state import OfferState
from schemas.review import Approve
from schemas.round import RoundSpec
from tests.conftest import round_spec
from tests.workers import WorkerProcess, eventually, render_attempts, running, start_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")
WAIT = timedelta(seconds=90)


def _environ(env: WorkflowEnvironment, home: Path, queue: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "OFFERDESK_HOME": str(home),
        "OFFERDESK_TASK_QUEUE": queue,
        **extra,
    }


async def _approved(engine: Engine, spec: RoundSpec) -> None:
    """Open the round, submit every partner's offer and approve it (one approval is the quorum)."""
    await engine.open_round(spec)
    for partner in spec.partners:
        await engine.submit(sample_offer(spec.round_id, partner.code), by="negotiator")
    for partner in spec.partners:
        await engine.approve(spec.round_id, partner.code, Approve(reviewer="Ada"))


async def _worker_with_letters(
    env: WorkflowEnvironment,
    settings: Settings,
    tmp_path: Path,
    closing: list[RoundSpec],
    name: str,
    partners: list[str],
    processes: int,
) -> tuple[Engine, RoundSpec, WorkerProcess]:
    """`offerdesk worker` with `processes` render processes on a queue of its own, and a round of `partners` for it."""
    queue = f"{name}-{tmp_path.name}"
    engine = Engine(env.client, replace(settings, home=tmp_path).store(), task_queue=queue)
    spec = round_spec(partners, approvals=1)
    closing.append(spec)
    environ = _environ(
        env, tmp_path, queue, OFFERDESK_RENDER_PROCESSES=str(processes), OFFERDESK_DATABASE_URL=settings.database
    )
    return engine, spec, await start_worker(env.client, environ, tmp_path / "worker")


async def test_a_worker_stopped_with_sigterm_finishes_the_letter_it_renders_and_takes_no_other(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec]
) -> None:
    # One render process, so one activity slot: one letter renders, the other waits on the task queue.
    engine, spec, worker = await _worker_with_letters(env, settings, tmp_path, closing, "drain", ["JP", "KR"], 1)
    local, queue, rid = replace(settings, home=tmp_path), engine.task_queue, spec.round_id
    try:
        await _approved(engine, spec)
        await eventually(lambda: len(worker.started()) == 1, 60, "a letter rendering")
        [rendering] = worker.started()
        waiting = next(p.code for p in spec.partners if p.code != rendering)

        worker.signal(signal.SIGTERM)
        await asyncio.sleep(1.5)
        assert worker.process.returncode is None, "the worker left before its letter was rendered"
        worker.release()
        assert await asyncio.wait_for(worker.process.wait(), 60) == 0, worker.log.read_text()[-3000:]
    finally:
        await worker.stop()
    assert list(worker.started()) == [rendering], "a draining worker took another letter"
    assert "Stopping: no new work is taken" in worker.log.read_text()

    # The letter's first attempt completed in the stopped worker; the next worker carries both offers on.
    assert await render_attempts(env.client, rid, rendering) == [(1, "completed")]
    with worker_for(env.client, local, render_workers=1, task_queue=queue) as second:
        async with second:
            done = await engine.wait_for(rid, rendering, {OfferState.LETTER_ISSUED}, timeout=WAIT)
            other = await engine.wait_for(rid, waiting, {OfferState.LETTER_ISSUED}, timeout=WAIT)
    assert done.letter is not None and other.letter is not None
    assert await render_attempts(env.client, rid, rendering) == [(1, "completed")]
    assert await render_attempts(env.client, rid, waiting) == [(1, "completed")]


async def test_render_processes_end_with_their_worker_even_one_killed_with_sigkill(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec]
) -> None:
    engine, spec, worker = await _worker_with_letters(env, settings, tmp_path, closing, "orphans", ["JP", "KR"], 2)
    try:
        await _approved(engine, spec)
        # Both render processes busy with a letter (held at the gate), the resource tracker beside them.
        await eventually(lambda: len(worker.started()) == 2, 60, "two letters rendering")
        renderers = set(worker.started().values())
        family = worker.descendants()
        assert renderers <= {p.pid for p in family}, (renderers, family)
        assert len(family) >= 3, f"two render processes and the resource tracker: {family}"

        worker.signal(signal.SIGKILL)
        assert await asyncio.wait_for(worker.process.wait(), 10) == -signal.SIGKILL
        await eventually(lambda: not running(family), 5, f"the render processes ending: {running(family)}")
    finally:
        await worker.stop()


async def test_a_second_sigterm_stops_a_draining_worker_at_once_and_its_render_processes_with_it(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec]
) -> None:
    engine, spec, worker = await _worker_with_letters(env, settings, tmp_path, closing, "impatient", ["JP"], 1)
    try:
        await _approved(engine, spec)
        await eventually(lambda: len(worker.started()) == 1, 60, "a letter rendering")
        family = worker.descendants()
        worker.signal(signal.SIGTERM)
        await asyncio.sleep(1.0)
        assert worker.process.returncode is None  # draining
        worker.signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.process.wait(), 10) == -signal.SIGTERM
        await eventually(lambda: not running(family), 5, f"the render processes ending: {running(family)}")
    finally:
        await worker.stop()
    assert "Stopping at once" in worker.log.read_text()
