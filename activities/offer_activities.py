"""The activities the workflows call, as one class holding their dependencies (store, render pool, policy)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from temporalio import activity

from activities.landing_zone import propose_landing_zone
from activities.names import PROPOSE_LANDING_ZONE, RENDER_AND_STORE_LETTER, VALIDATE_OFFER
from activities.reference import LandingZonePolicy, load_policy
from activities.render import letter_filename, render_letter_pdf
from activities.store import LetterStore
from activities.validation import validate_offer
from schemas.landing import LandingZone, ProposeRequest
from schemas.letter import LetterInput, LetterRef
from schemas.validation import ValidateRequest, ValidationReport


def yield_to_interactive_work() -> None:
    """Letters are batch work: they take the CPU that reviewers' updates and the Temporal server leave over.

    Under Linux's SCHED_IDLE a render process runs only on a core nobody else wants, so an approval is not
    queued behind letters, and letters lose nothing when the machine is otherwise idle. Elsewhere, nice 19.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or a sandbox that refuses the call
        with contextlib.suppress(AttributeError, OSError):
            os.nice(19)


def _start_render_process() -> None:
    # Ctrl-C reaches the whole process group; the worker shuts its pool down, so a render process ignores it
    # rather than print a KeyboardInterrupt traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    yield_to_interactive_work()
    import weasyprint  # noqa: F401  (imported once per pool process, not per letter)


def render_processes(workers: int | None = None) -> int:
    """How many render processes a worker runs: as asked, else one per core."""
    return workers or os.cpu_count() or 1


def make_render_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """Processes for WeasyPrint, one per core: rendering is CPU-bound and holds the GIL.

    Spawned, not forked: the worker process runs Temporal's threads, which a fork would copy half-alive.
    They run at the lowest priority (yield_to_interactive_work).
    """
    return ProcessPoolExecutor(
        max_workers=render_processes(workers),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_render_process,
    )


class OfferActivities:
    def __init__(self, store: LetterStore, render_pool: Executor, policy: LandingZonePolicy | None = None) -> None:
        self._store = store
        self._render_pool = render_pool
        self._policy = policy or load_policy()

    @activity.defn(name=VALIDATE_OFFER)
    def validate(self, request: ValidateRequest) -> ValidationReport:
        return validate_offer(request.document, request.as_of)

    @activity.defn(name=PROPOSE_LANDING_ZONE)
    def propose(self, request: ProposeRequest) -> LandingZone:
        return propose_landing_zone(request.document, request.partner, self._policy)

    @activity.defn(name=RENDER_AND_STORE_LETTER)
    async def render_and_store(self, request: LetterInput) -> LetterRef:
        loop = asyncio.get_running_loop()
        pdf, pages = await loop.run_in_executor(self._render_pool, render_letter_pdf, request)
        letter_id = await asyncio.to_thread(self._store.put, pdf)
        return LetterRef(
            letter_id=letter_id, sha256=letter_id, size=len(pdf), pages=pages, filename=letter_filename(request)
        )

    def all(self) -> list[Callable[..., Any]]:
        return [self.validate, self.propose, self.render_and_store]
