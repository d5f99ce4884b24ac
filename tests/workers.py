"""Real `offerdesk worker` processes for tests that stop, drain or kill them, with renders that wait at a gate."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psutil
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.names import RENDER_STORED_LETTER
from tests.gated_render import GATE, worker_command
from workflows.names import offer_workflow_id


@dataclass
class WorkerProcess:
    """One `offerdesk worker` process; its renders wait while GATE/hold exists."""

    process: asyncio.subprocess.Process
    gate: Path
    log: Path
    seen: list[psutil.Process] = field(default_factory=list)
    """Every process this worker started (render processes, the resource tracker), as last looked at."""

    @property
    def pid(self) -> int:
        return self.process.pid

    def hold(self) -> None:
        (self.gate / "hold").touch()

    def release(self) -> None:
        (self.gate / "hold").unlink(missing_ok=True)

    def started(self) -> dict[str, int]:
        """The letters this worker's render processes have begun, by partner, with the render process's pid."""
        return {p.name.removeprefix("started-"): int(p.read_text()) for p in self.gate.glob("started-*")}

    def descendants(self) -> list[psutil.Process]:
        """The processes this worker started, remembered so they can be looked for after it is gone."""
        found: list[psutil.Process] = psutil.Process(self.pid).children(recursive=True)
        self.seen = list({p.pid: p for p in [*self.seen, *found]}.values())
        return found

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    async def stop(self) -> int:
        """SIGTERM, and its exit code once it has drained; any render process it left behind is killed."""
        if self.process.returncode is None:
            self.release()
            self.process.terminate()
        code = await asyncio.wait_for(self.process.wait(), 120)
        for orphan in running(self.seen):
            orphan.kill()
        return code


def running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of `processes` that still run (a zombie waiting for its new parent to reap it has ended)."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


async def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(0.1)


async def polling(client: Client, queue: str, pid: int) -> bool:
    """Whether the process `pid` polls the activity task queue `queue` (its identity is pid@host).

    A loaded dev server may give up on the question itself (CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE: seen once
    from a fresh clone, "operation was canceled"): that is "not known yet", and the caller asks again."""
    try:
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            ),
            timeout=timedelta(seconds=5),
        )
    except RPCError as e:
        if e.status in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE):
            return False
        raise
    return any(p.identity.startswith(f"{pid}@") for p in answer.pollers)


async def start_worker(
    client: Client, environ: dict[str, str], folder: Path, *, hold: bool = True, gated: bool = True
) -> WorkerProcess:
    """`offerdesk worker` with `environ` (its whole environment), polling its task queue when this returns.

    With `gated`, its letters wait at a gate in `folder` (held shut at first with `hold`).
    """
    gate = folder / "gate"
    gate.mkdir(parents=True, exist_ok=True)
    log = folder / "worker.log"
    command = worker_command() if gated else [str(Path(sys.executable).parent / "offerdesk"), "worker"]
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *command, env={**environ, GATE: str(gate)}, stdout=out, stderr=out
        )
    worker = WorkerProcess(process, gate, log)
    if hold:
        worker.hold()
    queue = environ["OFFERDESK_TASK_QUEUE"]
    try:
        for _ in range(300):
            if process.returncode is not None:
                raise AssertionError(f"the worker exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            if await polling(client, queue, process.pid):
                return worker
            await asyncio.sleep(0.1)
        raise AssertionError(f"the worker did not poll {queue} within 30 s:\n{log.read_text()[-3000:]}")
    except BaseException:  # the test never gets the worker to stop: it must not outlive the test
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise


async def render_attempts(client: Client, round_id: str, partner: str) -> list[tuple[int, str]]:
    """How the offer's letter activity ended, each time it did: the attempt number and "completed", "failed",
    "timed out" or "cancelled". Temporal records an attempt's start only when the activity ends, so a letter that
    lost an attempt and then completed shows as [(2, "completed")]."""
    history = await client.get_workflow_handle(offer_workflow_id(round_id, partner)).fetch_history()
    letters = {
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == RENDER_STORED_LETTER
    }
    endings = {
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: ("completed", "activity_task_completed_event_attributes"),
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: ("failed", "activity_task_failed_event_attributes"),
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: ("timed out", "activity_task_timed_out_event_attributes"),
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: ("cancelled", "activity_task_canceled_event_attributes"),
    }
    started: dict[int, int] = {}
    ended: dict[int, str] = {}
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attributes = e.activity_task_started_event_attributes
            if attributes.scheduled_event_id in letters:
                started[e.event_id] = attributes.attempt
        elif e.event_type in endings:
            outcome, name = endings[e.event_type]
            attributes = getattr(e, name)
            if attributes.scheduled_event_id in letters:
                ended[attributes.started_event_id] = outcome
    return [(attempt, ended.get(event_id, "running")) for event_id, attempt in started.items()]
