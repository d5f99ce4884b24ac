"""The worker: both workflows and every activity on the offerdesk task queue, notices on its mail queue, and the
postman that mails what offers post to the outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, contextmanager
from datetime import timedelta
from types import TracebackType

from temporalio.client import Client
from temporalio.worker import Worker

from activities.metrics import WORKER, MeasuredStore
from activities.notify import NotifyActivities
from activities.offer_activities import OfferActivities, make_render_pool, stop_render_pool
from activities.postman import Postman
from activities.signing.identity import cached_signer
from offerdesk.config import Settings
from offerdesk.observe.endpoint import MetricsEndpoint, SdkMetrics, serve_metrics
from offerdesk.observe.tracing import setup_render_process, tracing_on
from offerdesk.people import open_people
from workflows.names import mail_queue
from workflows.offer import LegacyOfferWorkflow, OfferWorkflow
from workflows.round import RoundWorkflow

WORKFLOWS = [RoundWorkflow, OfferWorkflow, LegacyOfferWorkflow]
LOCAL_SLOTS = 4
"""Notices posted at once (local activities of milliseconds), on threads of their own so none waits for a validation."""
log = logging.getLogger("offerdesk.worker")


class Workers:
    """The main worker, the mail worker and the postman, run together with one `async with`."""

    def __init__(self, main: Worker, mail: Worker, postman: Postman, drain_s: float) -> None:
        self.main = main
        self.mail = mail
        self.postman = postman
        self._drain_s = drain_s
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Workers:
        await self._stack.enter_async_context(self.main)
        await self._stack.enter_async_context(self.mail)
        self.postman.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        # All stop taking work at once and drain side by side: a notice being mailed does not wait for the letters'
        # drain to end before its own begins.
        await asyncio.gather(
            self.main.shutdown(), self.mail.shutdown(), self.postman.stop(self._drain_s), return_exceptions=True
        )
        await self._stack.aclose()


@contextmanager
def worker_for(
    client: Client, settings: Settings, render_workers: int | None = None, task_queue: str | None = None
) -> Iterator[Workers]:
    """A worker with its render pool and thread pool, both closed when the block ends.

    It takes no more letters than its pool has processes (unless OFFERDESK_ACTIVITY_SLOTS says otherwise): the
    rest wait on the task queue, where another worker may take them, rather than in this worker's memory with
    their five-minute start-to-close clock running. Notices go on a queue of their own, so a message never waits
    behind letters for one of those slots. Offers post their notices to the outbox in a local activity on the main
    queue; the postman mails them, OFFERDESK_MAIL_SLOTS at a time, on threads of its own. When the block ends, all
    stop taking work and give the letters and notices they run OFFERDESK_WORKER_DRAIN_S to finish (Temporal's
    graceful shutdown; the postman's own); what is still running then is cancelled, and Temporal (or another
    worker's postman, once its claim runs out) gives it to another worker.
    """
    queue = task_queue or settings.task_queue
    mailer = settings.mailer()  # a wrong OFFERDESK_SMTP_URL is said before anything starts
    cached_signer(settings.signing())  # so is a signing identity that does not open (a SigningError)
    people = open_people(settings.database, settings.database_pool_size)  # so is a database to upgrade
    renderers = render_workers or settings.render_processes
    slots = settings.activity_slots or renderers
    pool = make_render_pool(renderers, setup_render_process if tracing_on() else None)
    # Validations, audit chunks, notices and posts run on threads: one for each slot of either worker.
    threads = ThreadPoolExecutor(max_workers=slots + settings.mail_slots + LOCAL_SLOTS)
    activities = OfferActivities(MeasuredStore(settings.store()), pool, signing=settings.signing())
    notify = NotifyActivities(people.notices, mailer, settings.public_url)
    # The postman's sends and its questions to the outbox, beside the activities' threads.
    postman_threads = ThreadPoolExecutor(max_workers=settings.mail_slots + 1, thread_name_prefix="postman")
    postman = Postman(notify, people.notices, settings.mail_slots, postman_threads)
    drain = timedelta(seconds=settings.worker_drain_s)
    try:
        yield Workers(
            Worker(
                client,
                task_queue=queue,
                workflows=WORKFLOWS,
                activities=[*activities.all(), *notify.local()],
                activity_executor=threads,
                max_concurrent_activities=slots,
                max_concurrent_local_activities=LOCAL_SLOTS,
                graceful_shutdown_timeout=drain,
            ),
            Worker(
                client,
                task_queue=mail_queue(queue),
                activities=notify.all(),
                activity_executor=threads,
                max_concurrent_activities=settings.mail_slots,
                graceful_shutdown_timeout=drain,
            ),
            postman,
            settings.worker_drain_s,
        )
    finally:
        threads.shutdown(wait=False, cancel_futures=True)
        postman_threads.shutdown(wait=False, cancel_futures=True)
        stop_render_pool(pool)


def worker_metrics(settings: Settings, sdk_metrics: str | None) -> MetricsEndpoint | None:
    """The worker's /metrics on OFFERDESK_WORKER_METRICS_PORT (None when unset): Offerdesk's letters, validations,
    store and mail, and the Temporal SDK's own metrics read from the runtime at `sdk_metrics`."""
    if settings.worker_metrics_port is None:
        return None
    sdk = SdkMetrics(sdk_metrics) if sdk_metrics else None
    return serve_metrics(settings.metrics_host, settings.worker_metrics_port, [WORKER], sdk)


async def run_worker(client: Client, settings: Settings, stop: asyncio.Event, sdk_metrics: str | None = None) -> None:
    """Run until `stop` is set, then drain: no new work, and what runs gets OFFERDESK_WORKER_DRAIN_S to finish.

    With OFFERDESK_WORKER_METRICS_PORT set, its metrics are served meanwhile (`sdk_metrics`: where the process's
    Temporal runtime serves the SDK's, offerdesk.engine.connection.serve_sdk_metrics)."""
    endpoint = worker_metrics(settings, sdk_metrics)
    try:
        with worker_for(client, settings) as worker:
            async with worker:
                await stop.wait()
                log.info(
                    "stopping: no new work; running letters and notices get %g s to finish", settings.worker_drain_s
                )
    finally:
        if endpoint is not None:
            endpoint.close()
