"""Health for load balancers and orchestrators: `/healthz` (the process is alive) and `/readyz` (it can serve).

Neither needs a sign-in and neither is audited: they act for nobody, and a balancer asks every few seconds. Both
carry the security headers every answer carries (SecurityHeaders wraps the whole app). They reach the engine and
the people's records through the desk's own handles, not through its audited methods.

`/readyz` runs four checks side by side, each within CHECK_TIMEOUT_S:

- `database`: a read of the people's records (a user lookup);
- `temporal`: the Temporal frontend answers (GetSystemInfo, as a client asks when it connects);
- `store`: the document store answers (an existence check of an object that is never there);
- `worker`: a worker has polled this portal's task queue lately.

It answers 503 when the database or Temporal is away: no page works then. A missing worker or an unreachable
store is reported (status "degraded") but answers 200. Every portal shares them, so taking every portal out of the
balancer would turn a partial outage into a total one: without a worker people still read offers, dashboards and
letters, and a change is answered "no worker is running"; without the store the offers' pages and decisions work
and the portal says, on the uploads and downloads that need it, that the store cannot be reached.

Sentences say what failed, never how (no addresses, user names or driver messages: the endpoint is public); the
portal's log has the details, once when a check fails and once when it recovers. A check that has not finished
is not started again: a database that hangs holds one thread, however often the balancer asks. Answers are
reused for REUSE_S, so a flood of probes costs the backends one round of checks a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.service import RPCError

from activities.store import Kind
from offerdesk.portal.desk import Desk
from offerdesk.portal.metrics import readiness_checked

router = APIRouter(tags=["health"])
log = logging.getLogger("offerdesk.portal.health")

CHECK_TIMEOUT_S = 2.0
"""How long /readyz waits for one check; a balancer's probe timeout should be longer (README: 5 s)."""
REUSE_S = 1.0
"""How long one round of checks answers every probe."""
NEVER_STORED = "0" * 64
"""An object id no content hashes to: asking for it reaches the store without reading anything."""
REQUIRED = frozenset({"database", "temporal"})
"""The checks whose failure makes the portal not ready (503)."""


class Alive(BaseModel):
    status: Literal["alive"] = "alive"


class Check(BaseModel):
    status: Literal["ok", "failed"]
    required: bool
    """Whether this check failing makes the portal not ready (503)."""
    reason: str | None = None
    """What failed, in a sentence; only when it failed."""


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "unavailable"]
    """ready: every check passed; degraded: the worker or the store failed (200); unavailable: 503."""
    checks: dict[str, Check]


class CheckFailed(Exception):
    """A check's failure as the public sentence; the cause, for the log, is the exception it was raised from."""


@router.get("/healthz", response_model=Alive, summary="The portal's process is alive (checks nothing else)")
async def healthz() -> Alive:
    return Alive()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Whether the portal can serve: its database, Temporal, the store and a worker",
    responses={503: {"model": Readiness, "description": "the database or Temporal is away"}},
)
async def readyz(request: Request) -> JSONResponse:
    state = getattr(request.app.state, "readiness", None)
    if state is None:
        state = request.app.state.readiness = ReadinessChecks(request.app.state.desk)
    answer = await state.answer()
    readiness_checked({name: check.status == "ok" for name, check in answer.checks.items()})
    status = 503 if answer.status == "unavailable" else 200
    return JSONResponse(answer.model_dump(exclude_none=True), status_code=status)


class Probe:
    """One check, run at most once at a time; its last outcome, to log only changes."""

    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.name = name
        self.run = run
        self.task: asyncio.Task[None] | None = None
        self.failing = False

    async def check(self) -> Check:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.run())
            self.task.add_done_callback(_retrieved)  # one that ends after its probe timed out is still read
        reason: str | None = None
        cause: BaseException | None = None
        try:
            await asyncio.wait_for(asyncio.shield(self.task), CHECK_TIMEOUT_S)
        except TimeoutError:
            reason = f"no answer within {CHECK_TIMEOUT_S:g} s"
        except CheckFailed as e:
            reason, cause = str(e), e.__cause__
        except Exception as e:  # whatever a backend raises, the probe answers with a sentence
            reason, cause = f"the check failed ({type(e).__name__})", e
        self._log(reason, cause)
        return Check(status="failed" if reason else "ok", required=self.name in REQUIRED, reason=reason)

    def _log(self, reason: str | None, cause: BaseException | None) -> None:
        if reason and not self.failing:
            log.warning("readiness: %s failed: %s", self.name, reason, exc_info=cause)
        elif not reason and self.failing:
            log.warning("readiness: %s is back", self.name)
        self.failing = reason is not None


def _retrieved(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


class ReadinessChecks:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.probes = {
            "database": Probe("database", self._database),
            "temporal": Probe("temporal", self._temporal),
            "store": Probe("store", self._store),
            "worker": Probe("worker", self._worker),
        }
        self._last: tuple[float, Readiness] | None = None
        self._lock = asyncio.Lock()

    async def answer(self) -> Readiness:
        async with self._lock:  # probes that arrive together share one round of checks
            now = asyncio.get_running_loop().time()
            if self._last is not None and now - self._last[0] < REUSE_S:
                return self._last[1]
            names = list(self.probes)
            results = await asyncio.gather(*(self.probes[n].check() for n in names))
            checks = dict(zip(names, results, strict=True))
            if checks["temporal"].status == "failed" and checks["worker"].status == "failed":
                checks["worker"] = checks["worker"].model_copy(update={"reason": "unknown while Temporal is away"})
            if any(c.status == "failed" and c.required for c in checks.values()):
                status: Literal["ready", "degraded", "unavailable"] = "unavailable"
            else:
                status = "degraded" if any(c.status == "failed" for c in checks.values()) else "ready"
            answer = Readiness(status=status, checks=checks)
            self._last = (asyncio.get_running_loop().time(), answer)
            return answer

    async def _database(self) -> None:
        try:
            await asyncio.to_thread(self.desk.people.users.get, "")
        except Exception as e:
            raise CheckFailed(f"the people's records cannot be read ({type(e).__name__})") from e

    async def _temporal(self) -> None:
        service = self.desk.engine.client.workflow_service
        try:
            await service.get_system_info(
                GetSystemInfoRequest(), retry=False, timeout=timedelta(seconds=CHECK_TIMEOUT_S)
            )
        except RPCError as e:
            raise CheckFailed(f"Temporal cannot be reached ({e.status.name})") from e
        except Exception as e:
            raise CheckFailed(f"Temporal cannot be reached ({type(e).__name__})") from e

    async def _store(self) -> None:
        try:
            await asyncio.to_thread(self.desk.engine.store.exists, Kind.LETTER, NEVER_STORED)
        except Exception as e:
            raise CheckFailed(f"the document store cannot be reached ({type(e).__name__})") from e

    async def _worker(self) -> None:
        engine = self.desk.engine
        try:
            running = await engine.worker_running()
        except Exception as e:
            raise CheckFailed(f"cannot tell whether a worker runs ({type(e).__name__})") from e
        if not running:
            raise CheckFailed(f"no worker has polled task queue '{engine.task_queue}' lately")
