"""An offer's alarm: one durable timer for its next deadline, or the reminder before it, kept across wake-ups.

A legacy offer waits with `wait_condition(moved, timeout=...)`, which starts a timer at every wait and cancels
it whenever an update wakes the offer: an approval that moves no deadline still cost a cancelled timer and a
new one. An offer of the lean type keeps one timer for as long as its next deadline stays where it is, and
cancels it only when the deadline moves or goes (review closes, a letter is being rendered).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from temporalio import workflow


class Waiting(Protocol):
    """What the alarm asks of the offer: its deadlines, whether it moved, and what to do when one comes."""

    def due(self) -> datetime | None: ...

    def reminder_due(self, due: datetime | None) -> datetime | None: ...

    def moved_since(self, revision: int) -> bool: ...

    def remind(self, due: datetime) -> None: ...

    def on_due(self) -> None: ...

    @property
    def revision(self) -> int: ...


class Alarm:
    def __init__(self) -> None:
        self._at: datetime | None = None
        self._timer: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """No deadline now: the timer, if one runs, is cancelled."""
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer, self._at = None, None

    def _ring_at(self, at: datetime) -> asyncio.Task[None]:
        """The timer for `at`: the one running if it is set for `at` already, else a new one."""
        if self._timer is None or self._at != at:
            self.stop()
            seconds = (at - workflow.now()).total_seconds()
            self._timer, self._at = asyncio.create_task(workflow.sleep(seconds)), at
        return self._timer

    async def wait(self, offer: Waiting, settled: Callable[[], bool]) -> None:
        """Until an update moves the offer (and it has settled: no submission half-way), or its time comes.

        As in the legacy wait, the time acts only if nobody moved the offer meanwhile: a deadline met by an
        update at the same moment is the update's.
        """
        seen = offer.revision
        due = offer.due()
        remind = offer.reminder_due(due)
        until = remind if remind is not None else due
        if until is None:
            self.stop()
            await workflow.wait_condition(lambda: settled() and offer.moved_since(seen))
            return
        if until > workflow.now():
            timer = self._ring_at(until)
            await workflow.wait_condition(lambda: settled() and (offer.moved_since(seen) or timer.done()))
            if not timer.done():
                return  # moved; the timer runs on for the next wait, if its deadline stays
            self._timer, self._at = None, None
        else:
            self.stop()
        if offer.revision != seen:
            return
        if remind is not None and due is not None:
            offer.remind(due)
        else:
            offer.on_due()
