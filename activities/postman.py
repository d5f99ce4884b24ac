"""The postman: mails the notices offers post to the outbox, from every worker, outside any workflow.

An offer files a notice in one local activity (NotifyActivities.post): into the outbox in the people's database,
and into everyone's inbox. The postman of each worker wakes every TICK_S (and at once when a notice is posted in
its own process), takes what is due, at most `slots` at a time, and runs NotifyActivities.deliver on it in a
thread: the same entries, leases, Message-IDs and metrics as the notify activity. What fails is tried again, one
second later and doubling up to five minutes, for three days after it was posted, as the notify activity was;
what can never be mailed (an address the server cannot take) is given up at once, and each person's entry says
why. Several workers share one outbox: a notice is taken by one conditional update, so one postman sends it at a
time, and one whose postman died is taken again once its claim runs out (CLAIM). A database that is away is
tried again on the next tick; nothing is lost, since nothing leaves the outbox before it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from temporalio.exceptions import ApplicationError

from activities.notify import Holder, NotifyActivities, Postbox, Posted
from schemas.notice import NOTICE_FIRST_RETRY, NOTICE_LONGEST_WAIT, NOTICE_PATIENCE

log = logging.getLogger("offerdesk.postman")
T = TypeVar("T")

TICK_S = 0.5
"""How often an idle postman looks in the outbox; a notice posted in its own process wakes it at once."""
CLAIM = timedelta(seconds=30)
"""How long a postman holds a notice it took without saying it still sends it; renewed every RENEW_S meanwhile,
so a notice whose postman died goes to another within half a minute (the notify activity's was 10 s)."""
RENEW_S = 5.0
FIRST_RETRY, LONGEST_WAIT, PATIENCE = NOTICE_FIRST_RETRY, NOTICE_LONGEST_WAIT, NOTICE_PATIENCE
"""The notify activity's retries, from the vocabulary both share."""
FIELDS = "offerdesk"
"""Where a log line keeps its own fields (offerdesk/observe/logs.py FIELDS), for the JSON logs."""


def next_try(posted_at: datetime, attempt: int, failed_at: datetime) -> datetime | None:
    """When to try a notice again whose attempt `attempt` (from 1) failed at `failed_at`; None once the next try
    would come after its patience ran out. One second after the first, doubling, at most five minutes apart."""
    wait = min(FIRST_RETRY * 2 ** min(max(attempt - 1, 0), 20), LONGEST_WAIT)
    again = failed_at + wait
    return again if again <= posted_at + PATIENCE else None


def postman_name() -> str:
    """Who holds a notice: this host and process, and this postman among any others in it."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class Postman:
    """One worker's postman: `start` it in the worker's event loop, `stop` it at shutdown."""

    def __init__(
        self, notify: NotifyActivities, outbox: Postbox, slots: int, threads: Executor, tick_s: float = TICK_S
    ) -> None:
        self.name = postman_name()
        self._notify = notify
        self._outbox = outbox
        self._slots = slots
        self._threads = threads
        self._tick_s = tick_s
        self._sending: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._unreachable = False
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._notify.when_posted(self.wake)
        self._task = self._loop.create_task(self._run(), name=f"postman {self.name}")

    @property
    def stopping(self) -> bool:
        """Whether `stop` has begun: nothing more is taken."""
        return self._stopping

    def wake(self) -> None:
        """Look in the outbox now; callable from any thread (the post activity's)."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the worker has stopped
                self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self, drain_s: float) -> None:
        """Take nothing more; give the sends in flight `drain_s` seconds to finish, then abandon them (their claims
        run out, and another postman takes them again)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._sending:
            _, late = await asyncio.wait(set(self._sending), timeout=drain_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning("stopped with %d notices still being sent: another worker sends them again", len(late))

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.round()
            except Exception:  # a bug: said, and the postman goes on looking
                log.exception("the postman failed to look in the outbox")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._tick_s)

    async def round(self) -> None:
        """Take what is due, as many as there are free slots, and start sending each."""
        free = self._slots - len(self._sending)
        if free <= 0 or self._stopping:
            return
        due = await self._database(self._outbox.due, _now(), free)
        for posted in due or []:
            if self._stopping:
                return
            attempt = await self._database(self._outbox.take, posted.key, _now() + CLAIM, self.name)
            if attempt is None:
                continue  # another postman took it, or the database went away: the next tick looks again
            task = asyncio.get_running_loop().create_task(self._send(posted, attempt))
            self._sending.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        self._wake.set()  # a slot is free

    async def _send(self, posted: Posted, attempt: int) -> None:
        loop = asyncio.get_running_loop()
        sending = loop.run_in_executor(self._threads, self._notify.deliver, posted.notice, Holder(posted.key, attempt))
        while not (await asyncio.wait({sending}, timeout=RENEW_S))[0]:
            await self._database(self._outbox.hold, posted.key, _now() + CLAIM, self.name)
        try:
            sending.result()
        except ApplicationError as e:
            await self._failed(posted, attempt, e.message, final=e.non_retryable)
        except Exception as e:  # the database away mid-send, a bug: Temporal retried those too
            await self._failed(posted, attempt, f"{type(e).__name__}: {e}", final=False)
        else:
            await self._database(self._outbox.sent, posted.key, self.name)

    async def _failed(self, posted: Posted, attempt: int, error: str, final: bool) -> None:
        again = None if final else next_try(posted.created_at, attempt, _now())
        if again is not None:
            log.info("notice %s: attempt %d failed, again at %s: %s", posted.key, attempt, again.isoformat(), error)
            await self._database(self._outbox.retry_later, posted.key, self.name, again, error)
            return
        why = error if final else f"still failing {PATIENCE.days} days after it was posted ({attempt} tries): {error}"
        fields = {"notice": posted.key, "kind": posted.notice.kind.value, "attempts": attempt, "error": why}
        fields |= {"round": posted.notice.round_id, "partner": posted.notice.partner}
        log.warning("gave up mailing notice %s: %s", posted.key, why, extra={FIELDS: fields})
        await self._database(self._outbox.give_up, posted.key, self.name, why)

    async def _database(self, call: Callable[..., T], *args: object) -> T | None:
        """`call(*args)` on a thread; None, logged once an outage, if the database (or anything) failed."""
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._threads, call, *args)
        except Exception as e:
            if not self._unreachable:
                log.warning("the outbox cannot be reached now, trying again every %g s: %s", self._tick_s, e)
            self._unreachable = True
            return None
        if self._unreachable:
            log.warning("the outbox can be reached again")
            self._unreachable = False
        return result


def _now() -> datetime:
    return datetime.now(UTC)
