"""Whether a worker serves a task queue, asked of the server (no worker needed to ask), remembered briefly."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from offerdesk.engine.errors import is_outage

POLLER_FRESH = timedelta(seconds=120)
"""A live worker polls at least once a minute (a long poll lasts up to a minute); twice that, to be sure."""
WORKER_SEEN_S = 2.0
"""A queue that showed a live worker is taken to have one for this long without asking again: a portal reading
many offers asks the server once, not once per offer. A worker gone meanwhile shows as a query that times out."""


class Pollers:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._seen: dict[str, float] = {}
        """When each task queue last showed a live worker (the event loop's clock). Only a yes is remembered,
        so a worker that has just started is seen at once."""

    async def running(self, queue: str, wait: float = 0.0) -> bool:
        """Whether a worker has polled the task queue in the last minute or two.

        `wait` gives a worker that is just starting (as in 'offerdesk up') a moment to send its first poll.
        """
        request = DescribeTaskQueueRequest(
            namespace=self.client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        loop = asyncio.get_running_loop()
        seen = self._seen.get(queue)
        if seen is not None and loop.time() - seen < WORKER_SEEN_S:
            return True
        give_up = loop.time() + wait
        while True:
            try:
                answer = await self.client.workflow_service.describe_task_queue(request, retry=True)
            except RPCError as e:
                if is_outage(e) and e.status == RPCStatusCode.UNAVAILABLE:
                    raise
                return True  # a busy server that cannot say: assume a worker, and let the update's timeout tell
            now = datetime.now(UTC)
            if any(now - p.last_access_time.ToDatetime(tzinfo=UTC) < POLLER_FRESH for p in answer.pollers):
                self._seen[queue] = loop.time()
                return True
            if loop.time() >= give_up:
                return False
            await asyncio.sleep(0.2)
