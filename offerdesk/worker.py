"""The worker: both workflows and every activity on the offerdesk task queue."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from temporalio.client import Client
from temporalio.worker import Worker

from activities.offer_activities import OfferActivities, make_render_pool, render_processes
from offerdesk.config import Settings
from workflows.names import TASK_QUEUE
from workflows.offer import OfferWorkflow
from workflows.round import RoundWorkflow

WORKFLOWS = [RoundWorkflow, OfferWorkflow]


@contextmanager
def worker_for(
    client: Client, settings: Settings, render_workers: int | None = None, task_queue: str = TASK_QUEUE
) -> Iterator[Worker]:
    """A worker with its render pool and thread pool, both closed when the block ends.

    It takes no more letters than its pool has processes: the rest wait on the task queue, where another worker
    may take them, rather than in this worker's memory with their five-minute start-to-close clock running.
    """
    renderers = render_processes(render_workers)
    pool = make_render_pool(renderers)
    threads = ThreadPoolExecutor(max_workers=16)
    activities = OfferActivities(settings.store(), pool)
    try:
        yield Worker(
            client,
            task_queue=task_queue,
            workflows=WORKFLOWS,
            activities=activities.all(),
            activity_executor=threads,
            max_concurrent_activities=renderers,
        )
    finally:
        threads.shutdown(wait=False, cancel_futures=True)
        pool.shutdown(wait=False, cancel_futures=True)


async def run_worker(client: Client, settings: Settings, stop: asyncio.Event) -> None:
    with worker_for(client, settings) as worker:
        async with worker:
            await stop.wait()
