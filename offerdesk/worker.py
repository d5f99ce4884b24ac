"""The worker: both workflows and every activity on the offerdesk task queue, and notices on its mail queue."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, contextmanager
from types import TracebackType

from temporalio.client import Client
from temporalio.worker import Worker

from activities.notify import NotifyActivities
from activities.offer_activities import OfferActivities, make_render_pool, render_processes
from offerdesk.config import Settings
from offerdesk.people import open_people
from workflows.names import mail_queue
from workflows.offer import OfferWorkflow
from workflows.round import RoundWorkflow

WORKFLOWS = [RoundWorkflow, OfferWorkflow]
MAIL_SLOTS = 4
"""Notices sent at once by one worker: each is one SMTP conversation, mostly waiting on the network."""


class Workers:
    """The main worker and the mail worker, run together with one `async with`."""

    def __init__(self, main: Worker, mail: Worker) -> None:
        self.main = main
        self.mail = mail
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Workers:
        await self._stack.enter_async_context(self.main)
        await self._stack.enter_async_context(self.mail)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()


@contextmanager
def worker_for(
    client: Client, settings: Settings, render_workers: int | None = None, task_queue: str | None = None
) -> Iterator[Workers]:
    """A worker with its render pool and thread pool, both closed when the block ends.

    It takes no more letters than its pool has processes: the rest wait on the task queue, where another worker
    may take them, rather than in this worker's memory with their five-minute start-to-close clock running.
    Notices go on a queue of their own, so a message never waits behind letters for one of those slots.
    """
    queue = task_queue or settings.task_queue
    mailer = settings.mailer()  # a wrong OFFERDESK_SMTP_URL is said before anything starts
    people = open_people(settings.database, settings.database_pool_size)  # so is a database to upgrade
    renderers = render_processes(render_workers)
    pool = make_render_pool(renderers)
    threads = ThreadPoolExecutor(max_workers=16)
    activities = OfferActivities(settings.store(), pool)
    notify = NotifyActivities(people.notices, mailer, settings.public_url)
    try:
        yield Workers(
            Worker(
                client,
                task_queue=queue,
                workflows=WORKFLOWS,
                activities=activities.all(),
                activity_executor=threads,
                max_concurrent_activities=renderers,
            ),
            Worker(
                client,
                task_queue=mail_queue(queue),
                activities=notify.all(),
                activity_executor=threads,
                max_concurrent_activities=MAIL_SLOTS,
            ),
        )
    finally:
        threads.shutdown(wait=False, cancel_futures=True)
        pool.shutdown(wait=False, cancel_futures=True)


async def run_worker(client: Client, settings: Settings, stop: asyncio.Event) -> None:
    with worker_for(client, settings) as worker:
        async with worker:
            await stop.wait()
