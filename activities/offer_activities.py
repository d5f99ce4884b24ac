"""The activities the workflows call, as one class holding their dependencies (store, render pool, policy).

Each names the errors that will not heal as non-retryable, so the workflow's bounded retries stop at once
and the offer shows the reason instead of retrying without end.

The workflow imports this class to call its activities by reference, so everything heavy is imported where it is
used: WeasyPrint and jinja2 (activities.render) only in the letter activities and the render processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.capacity import usable_cpus
from activities.metrics import VALIDATION_SECONDS, counted_letter, timed_render
from activities.names import (
    ASSESS_STORED_OFFER,
    DAMAGED_OBJECT,
    LETTER_ERROR,
    NOT_IN_STORE,
    PROPOSE_LANDING_ZONE,
    RENDER_AND_STORE_LETTER,
    RENDER_STORED_LETTER,
    RULE_ERROR,
    SIGNING_ERROR,
    STORE_AUDIT_CHUNK,
    VALIDATE_OFFER,
    VALIDATE_STORED_OFFER,
)
from activities.signing.identity import SigningConfig, SigningError, SigningUnavailable
from activities.signing.records import find_signed, keep_signed
from activities.store import DamagedObjectError, Kind, NotInStoreError, ObjectStore, sha256_hex
from activities.tracing import in_span
from offers.landing_zone import propose_landing_zone
from offers.reference import LandingZonePolicy, load_policy
from offers.validation import validate_offer
from schemas.document_ref import DocumentRef
from schemas.landing import Assessment, AssessRequest, LandingZone, ProposeRequest
from schemas.letter import LetterInput, LetterRef, LetterRequest
from schemas.offer import OfferDocument
from schemas.review import AuditChunk
from schemas.validation import (
    ValidateRequest,
    ValidateStoredRequest,
    ValidationOutcome,
    ValidationReport,
    first_findings,
    summarize_report,
)

HEARTBEAT_EVERY_S = 5.0


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


PARENT_POLL_S = 0.5
"""Where a process cannot watch its parent through a pidfd, how often it asks whether the parent is still there."""


def _end_with(parent: int) -> None:
    """End this process as soon as `parent` (the worker that spawned it) ends, however it ends: SIGKILL included.

    A daemon thread waits on a pidfd of the parent, which becomes readable when the parent process exits (not a
    thread of it, as prctl's PR_SET_PDEATHSIG would: a pool started from a thread that later ends would lose its
    processes mid-letter). Without pidfds (a kernel before 5.3, or a sandbox that refuses them), the thread asks
    every half-second whether this process has been handed to another parent. Either way the process ends at once
    (os._exit): whatever it was rendering belongs to a worker that no longer exists, and Temporal gives the letter
    to another worker after the heartbeat timeout. Once the render processes are gone, the pool's resource tracker
    sees the last of its pipe closed and ends too.
    """
    try:
        watch = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)  # the worker is gone already
    except (AttributeError, OSError):
        watch = -1
    if os.getppid() != parent:  # it ended before the pidfd was opened (and its pid may be someone else's now)
        os._exit(1)

    def wait_for_parent() -> None:
        if watch >= 0:
            select.select([watch], [], [])
        else:
            while os.getppid() == parent:
                time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=wait_for_parent, name="offerdesk-parent-watch", daemon=True).start()


def _start_render_process(parent: int, setup: Callable[[], None] | None = None) -> None:
    _end_with(parent)
    if setup is not None:
        setup()  # the worker's telemetry, as this process needs it (tracing: offerdesk/observe/tracing.py)
    # Ctrl-C reaches the whole process group; the worker shuts its pool down, so a render process ignores it
    # rather than print a KeyboardInterrupt traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    yield_to_interactive_work()
    import weasyprint  # noqa: F401  (imported once per pool process, not per letter)


def render_processes(workers: int | None = None) -> int:
    """How many render processes a worker runs: as asked, else one per CPU this process may use (capacity)."""
    return workers or usable_cpus()


def make_render_pool(workers: int | None = None, setup: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """Processes for WeasyPrint, one per usable CPU by default: rendering is CPU-bound and holds the GIL.

    Spawned, not forked: the worker process runs Temporal's threads, which a fork would copy half-alive.
    They run at the lowest priority (yield_to_interactive_work), and end with the worker that made them, even one
    killed with SIGKILL (_end_with). `setup`, a module-level function, runs in each process as it starts.
    """
    return ProcessPoolExecutor(
        max_workers=render_processes(workers),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_render_process,
        initargs=(os.getpid(), setup),
    )


def stop_render_pool(pool: ProcessPoolExecutor) -> None:
    """End the render processes and wait for the pool to wind down, so its locks are released before the worker exits.

    A pool left winding down (shutdown without waiting) still holds its semaphores when the worker ends, and
    multiprocessing's resource tracker then warns of "leaked semaphore objects" on stderr, a line outside the JSON
    logs, now and then. By now the drain has given the letters their time: a render still running belongs to an
    activity Temporal has cancelled and gives to another worker, so it is ended rather than waited for.
    """
    pool.shutdown(wait=False, cancel_futures=True)
    processes = getattr(pool, "_processes", None) or {}  # Python 3.14 has terminate_workers(); 3.11 has not
    for process in list(processes.values()):
        process.terminate()
    pool.shutdown(wait=True)


def _not_healing(error: NotInStoreError | DamagedObjectError) -> ApplicationError:
    """Store errors that another try cannot fix, named so the workflow's retry policy stops at once."""
    kind = NOT_IN_STORE if isinstance(error, NotInStoreError) else DAMAGED_OBJECT
    return ApplicationError(str(error), type=kind, non_retryable=True)


def load_document(store: ObjectStore, ref: DocumentRef) -> OfferDocument:
    try:
        data = store.get(Kind.OFFER, ref.digest)
    except (NotInStoreError, DamagedObjectError) as e:
        raise _not_healing(e) from None
    return OfferDocument.model_validate_json(data)


def load_report(store: ObjectStore, digest: str | None) -> ValidationReport | None:
    if digest is None:
        return None
    try:
        return ValidationReport.model_validate_json(store.get(Kind.REPORT, digest))
    except (NotInStoreError, DamagedObjectError) as e:
        raise _not_healing(e) from None


class OfferActivities:
    def __init__(
        self,
        store: ObjectStore,
        render_pool: Executor,
        policy: LandingZonePolicy | None = None,
        signing: SigningConfig | None = None,
    ) -> None:
        """`signing` is the office's identity every letter is signed with (the worker always gives one); without
        it letters are stored unsigned, as tests of rendering alone want them."""
        self._store = store
        self._render_pool = render_pool
        self._policy = policy or load_policy()
        self._signing = signing

    @activity.defn(name=VALIDATE_STORED_OFFER)
    def validate_stored(self, request: ValidateStoredRequest) -> ValidationOutcome:
        """Read the document, run the rules, keep the full report in the store and answer with its summary."""
        return self._validated(load_document(self._store, request.ref), request)

    @activity.defn(name=ASSESS_STORED_OFFER)
    def assess_stored(self, request: AssessRequest) -> Assessment:
        """Validation and, for a clean version, its landing zone: one local activity, so one marker in the offer's
        history instead of two, and the document read from the store once.

        A policy that fails is an answer, not an exception: the version is then deficient with a finding that
        says so, as when the landing zone ran as an activity of its own."""
        document = load_document(self._store, request.check.ref)
        outcome = self._validated(document, request.check)
        if not outcome.summary.clean:
            return Assessment(outcome=outcome)
        try:
            zone = propose_landing_zone(document, request.partner, self._policy)
        except Exception as e:
            activity.logger.exception("the landing-zone policy failed for %s", request.partner.code)
            return Assessment(
                outcome=outcome, landing_error=f"the landing-zone policy failed ({type(e).__name__}: {e})"
            )
        return Assessment(outcome=outcome, landing_zone=zone)

    def _validated(self, document: OfferDocument, request: ValidateStoredRequest) -> ValidationOutcome:
        try:
            with VALIDATION_SECONDS.time():
                report = validate_offer(document, request.as_of)
        except Exception as e:
            # A bug in a rule will not heal by retrying: say so once, with the reference that finds this log line.
            activity.logger.exception("validation failed, reference %s", request.reference)
            raise ApplicationError(
                f"a validation rule failed ({type(e).__name__}: {e})", type=RULE_ERROR, non_retryable=True
            ) from None
        digest = self._store.put(Kind.REPORT, report.model_dump_json().encode())
        return ValidationOutcome(summary=summarize_report(report, digest), findings=first_findings(report))

    @activity.defn(name=VALIDATE_OFFER)
    def validate(self, request: ValidateRequest) -> ValidationReport:
        """For offers started before documents went by reference: the document inline, the report inline."""
        with VALIDATION_SECONDS.time():
            return validate_offer(request.document, request.as_of)

    @activity.defn(name=PROPOSE_LANDING_ZONE)
    def propose(self, request: ProposeRequest) -> LandingZone:
        if request.document is not None:
            document = request.document
        elif request.ref is not None:
            document = load_document(self._store, request.ref)
        else:
            raise ApplicationError("the landing zone needs a document", type=RULE_ERROR, non_retryable=True)
        try:
            return propose_landing_zone(document, request.partner, self._policy)
        except Exception as e:
            activity.logger.exception("the landing-zone policy failed for %s", request.partner.code)
            raise ApplicationError(
                f"the landing-zone policy failed ({type(e).__name__}: {e})", type=RULE_ERROR, non_retryable=True
            ) from None

    @activity.defn(name=RENDER_STORED_LETTER)
    @counted_letter
    async def render_stored(self, request: LetterRequest) -> LetterRef:
        document = await asyncio.to_thread(load_document, self._store, request.offer)
        report = await asyncio.to_thread(load_report, self._store, request.report_digest)
        return await self._render(
            request.with_content(document, report or ValidationReport(categories={}, findings=[]))
        )

    @activity.defn(name=RENDER_AND_STORE_LETTER)
    @counted_letter
    async def render_and_store(self, request: LetterInput) -> LetterRef:
        """For offers started before documents went by reference: everything inline."""
        return await self._render(request)

    async def _in_pool(
        self,
        work: Callable[..., Any],
        *args: Any,
        measure: Callable[[asyncio.Future[Any]], asyncio.Future[Any]] | None = None,
    ) -> Any:
        """`work` in a render process, heartbeating meanwhile: if this worker dies, another takes the letter within
        the heartbeat timeout instead of the whole start-to-close timeout. `measure` times it here, in the worker."""
        running = asyncio.get_running_loop().run_in_executor(self._render_pool, work, *args)
        if measure is not None:
            running = measure(running)
        while not (await asyncio.wait({running}, timeout=HEARTBEAT_EVERY_S))[0]:
            activity.heartbeat()
        return running.result()

    async def _render(self, letter: LetterInput) -> LetterRef:
        from activities.render import letter_filename, render_letter_pdf  # WeasyPrint: the letter activities only

        try:
            pdf, pages = await self._in_pool(in_span(render_letter_pdf), letter, measure=timed_render)
        except BrokenProcessPool:
            raise  # a render process died (memory?): another try may well succeed
        except Exception as e:
            raise ApplicationError(
                f"the letter could not be rendered ({type(e).__name__}: {e})", type=LETTER_ERROR, non_retryable=True
            ) from None
        name = letter_filename(letter)
        if self._signing is None:
            letter_id = await asyncio.to_thread(self._store.put, Kind.LETTER, pdf)
            return LetterRef(letter_id=letter_id, sha256=letter_id, size=len(pdf), pages=pages, filename=name)
        # Signed after rendering, before storing; a try that finds the letter this body was signed into reuses it.
        body = sha256_hex(pdf)
        record = await asyncio.to_thread(find_signed, self._store, body)
        if record is None:
            signed = await self._sign(pdf)
            record = await asyncio.to_thread(
                keep_signed, self._store, body, signed.pdf, signed.signer, signed.signed_at
            )
        return LetterRef(
            letter_id=record.letter_id,
            sha256=record.letter_id,
            size=record.size,
            pages=pages,
            filename=name,
            body_sha256=body,
            signed_by=record.signed_by,
            signed_at=record.signed_at,
        )

    async def _sign(self, pdf: bytes) -> Any:
        from activities.signing.sign import sign_letter  # pyHanko: the letter activities only

        try:
            return await self._in_pool(sign_letter, self._signing, pdf)
        except BrokenProcessPool:
            raise
        except SigningUnavailable:
            raise  # the timestamp authority or the token did not answer: the retry policy tries again
        except SigningError as e:
            raise ApplicationError(str(e), type=SIGNING_ERROR, non_retryable=True) from None

    @activity.defn(name=STORE_AUDIT_CHUNK)
    def store_audit_chunk(self, chunk: AuditChunk) -> str:
        return self._store.put(Kind.AUDIT, chunk.model_dump_json().encode())

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.assess_stored,
            self.validate_stored,
            self.validate,
            self.propose,
            self.render_stored,
            self.render_and_store,
            self.store_audit_chunk,
        ]
