"""What the worker counts and times, for its Prometheus endpoint (OFFERDESK_WORKER_METRICS_PORT).

The definitions live here, below the activities that record them, in a registry of the worker's own (`WORKER`):
the process serves it with the Temporal SDK's metrics (offerdesk/observe/endpoint.py). Letters render in other
processes, but their time is measured here, in the worker, around the call to the render pool: nothing has to
come back from the render processes but the letter itself.

Labels are small fixed sets (an outcome, an operation, a kind of object): never a round, a partner or a person.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.store.base import Kind, ObjectStore, StoreError

WORKER = CollectorRegistry(auto_describe=True)
"""The worker's own metrics; the portal has its registry too, so `offerdesk up` serves each on its own port."""

LETTER_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
"""A 3-page letter takes about 0.3 s in a warm render process, a 25,000-line offer's up to 12 s in a fresh one."""
QUICK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

LETTERS = Counter(
    "offerdesk_letters",
    "Letter activity attempts by outcome: issued (rendered and stored), retried (another attempt follows), "
    "failed (no attempt follows: the offer is LETTER_FAILED)",
    ["outcome"],
    registry=WORKER,
)
RENDER_SECONDS = Histogram(
    "offerdesk_letter_render_seconds",
    "Seconds from handing a letter to the render pool to having its PDF back, measured in the worker",
    buckets=LETTER_BUCKETS,
    registry=WORKER,
)
VALIDATION_SECONDS = Histogram(
    "offerdesk_validation_seconds",
    "Seconds the validation rules took on one offer version",
    buckets=QUICK_BUCKETS,
    registry=WORKER,
)
STORE_SECONDS = Histogram(
    "offerdesk_store_operation_seconds",
    "Seconds a store operation took, by operation (put, get, exists) and kind of object",
    ["operation", "kind"],
    buckets=QUICK_BUCKETS,
    registry=WORKER,
)
STORE_ERRORS = Counter(
    "offerdesk_store_errors",
    "Store operations that failed, by operation, kind of object and error (unavailable, not_found, damaged)",
    ["operation", "kind", "error"],
    registry=WORKER,
)
MAILS = Counter(
    "offerdesk_mails",
    "Notice mails by outcome: sent (the server took it), refused (permanently), undeliverable, unavailable "
    "(the server could not be reached or answered with a temporary error; the retry sends it)",
    ["outcome"],
    registry=WORKER,
)

# Every series from the start, so a rate is never "no data"; each looked up once.
_LETTER_OUTCOMES = {outcome: LETTERS.labels(outcome) for outcome in ("issued", "retried", "failed")}
for outcome in ("sent", "refused", "undeliverable", "unavailable"):
    MAILS.labels(outcome)

P = ParamSpec("P")
T = TypeVar("T")


# ---- letters ---------------------------------------------------------------------------------------


def _final(error: BaseException) -> bool:
    """Whether no further attempt follows this failed one: non-retryable, or the policy's last attempt."""
    if isinstance(error, ApplicationError) and error.non_retryable:
        return True
    info = activity.info()
    policy = info.retry_policy
    if policy is None:
        return False
    if isinstance(error, ApplicationError) and error.type in (policy.non_retryable_error_types or ()):
        return True
    return bool(policy.maximum_attempts) and info.attempt >= policy.maximum_attempts


def counted_letter(render: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Count each attempt of a letter activity by its outcome (LETTERS)."""

    @functools.wraps(render)
    async def counted(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            result = await render(*args, **kwargs)
        except asyncio.CancelledError:
            raise  # the worker is stopping or the heartbeat timed out: Temporal retries it elsewhere
        except Exception as e:
            _LETTER_OUTCOMES["failed" if _final(e) else "retried"].inc()
            raise
        _LETTER_OUTCOMES["issued"].inc()
        pages, size = getattr(result, "pages", None), getattr(result, "size", None)
        activity.logger.info("letter issued: %s pages, %s bytes", pages, size)
        return result

    return counted


def timed_render(rendering: asyncio.Future[T]) -> asyncio.Future[T]:
    """Observe RENDER_SECONDS when the render pool's future is done, from now: the parent's view of the render."""
    started = time.perf_counter()
    rendering.add_done_callback(lambda _: RENDER_SECONDS.observe(time.perf_counter() - started))
    return rendering


# ---- mail ------------------------------------------------------------------------------------------


def mail_outcome(outcome: str) -> None:
    _mails(outcome).inc()


@functools.cache
def _mails(outcome: str) -> Counter:
    return MAILS.labels(outcome)


# ---- the store -------------------------------------------------------------------------------------


def _error_name(error: StoreError) -> str:
    names = {"NotInStoreError": "not_found", "DamagedObjectError": "damaged"}
    return names.get(type(error).__name__, "unavailable")


@functools.cache
def _store_seconds(operation: str, kind: Kind) -> Histogram:
    """STORE_SECONDS's series for an operation on a kind, looked up once (`.labels` takes a lock and builds a key)."""
    return STORE_SECONDS.labels(operation, kind.value)


class MeasuredStore(ObjectStore):
    """A store that times every operation and counts its errors (STORE_SECONDS, STORE_ERRORS)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.location = store.location

    @contextmanager
    def _measured(self, operation: str, kind: Kind) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except StoreError as e:
            STORE_ERRORS.labels(operation, kind.value, _error_name(e)).inc()
            raise
        finally:
            _store_seconds(operation, kind).observe(time.perf_counter() - started)

    def put(self, kind: Kind, data: bytes) -> str:
        with self._measured("put", kind):
            return self.store.put(kind, data)

    def get(self, kind: Kind, digest: str) -> bytes:
        with self._measured("get", kind):
            return self.store.get(kind, digest)

    def exists(self, kind: Kind, digest: str) -> bool:
        with self._measured("exists", kind):
            return self.store.exists(kind, digest)

    def put_record(self, kind: Kind, key: str, data: bytes) -> bytes:
        with self._measured("put_record", kind):
            return self.store.put_record(kind, key, data)

    def get_record(self, kind: Kind, key: str) -> bytes | None:
        with self._measured("get_record", kind):
            return self.store.get_record(kind, key)

    def __repr__(self) -> str:
        return f"MeasuredStore({self.store!r})"
