"""Telling people: a notice of every event to its audience, and a reminder before each deadline.

What a notice says and when a reminder is due are pure functions of the offer's input and memory. Sending is a
notify activity on the worker's mail queue, without waiting: it retries until the mail server takes the message
(a mail server away for an hour, or a day, loses nothing), and a worker that dies mid-send frees it within the
heartbeat timeout. Notices never wait behind letters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notify import NotifyActivities
    from schemas.notice import (
        MAX_NOTICE_FINDINGS,
        NOTICE_FIRST_RETRY,
        NOTICE_LONGEST_WAIT,
        NOTICE_PATIENCE,
        Audience,
        Notice,
        NoticeKind,
    )
    from schemas.offer_state import OfferInput, OfferMemory, OfferState
    from schemas.validation import Finding
    from workflows.names import mail_queue

from workflows.offer_rules import due as due_of
from workflows.offer_rules import failure_reason
from workflows.patches import NOTIFY_PEOPLE, legacy, patched

S = OfferState
NOTICE_RETRY = RetryPolicy(
    initial_interval=NOTICE_FIRST_RETRY, maximum_interval=NOTICE_LONGEST_WAIT, non_retryable_error_types=[]
)
NOTICE_TIMEOUT = timedelta(minutes=2)
NOTICE_HEARTBEAT = timedelta(seconds=10)
POST_TIMEOUT = timedelta(seconds=20)
"""Filing a notice is a few rows in the people's database; a database away is retried, like mail."""
REMINDERS_KEPT = 20
"""The keys of the last reminders an offer keeps (and carries into its next run), so each is sent once."""


def notice_for(
    inp: OfferInput,
    memory: OfferMemory,
    kind: NoticeKind,
    *,
    key: str,
    at: datetime,
    note: str,
    findings: list[Finding],
) -> Notice:
    """The notice of one event: who it is for, who it is not for, and no content of the offer."""
    report = memory.report if kind is NoticeKind.DEFICIENT else None
    exclude: list[str] = []
    if kind.audience is Audience.REVIEWERS:  # whoever submitted may not review; who approved has decided
        exclude = [v.submitted_by for v in memory.versions if v.submitted_by is not None]
        if kind is NoticeKind.REMIND_REVIEW:
            exclude += [a.reviewer for a in memory.approvals]
    return Notice(
        key=key,
        kind=kind,
        round_id=inp.round_id,
        partner=inp.partner.code,
        partner_name=inp.partner.name,
        version=len(memory.versions),
        letter=len(memory.letters),
        at=at,
        due=memory.respond_by if kind is NoticeKind.UNANSWERED else due_of(inp, memory),
        note=note,
        categories=dict(report.categories) if report is not None else {},
        error_count=report.error_count if report is not None else 0,
        findings=findings[:MAX_NOTICE_FINDINGS],
        exclude=exclude,
    )


def reminder_kind(state: OfferState) -> NoticeKind | None:
    """Whom a state waits on: the negotiator to submit, amend or answer a letter, or the reviewers to decide.

    LETTER_ISSUED has a deadline only while its letter awaits an answer (`due`); before NEGOTIATE it had none.
    """
    if state in (S.INVITED, S.DEFICIENT):
        return NoticeKind.REMIND_SUBMIT
    if state is S.UNDER_REVIEW:
        return NoticeKind.REMIND_REVIEW
    if state is S.LETTER_ISSUED:
        return NoticeKind.REMIND_ANSWER
    return None


def reminder_key(prefix: str, kind: NoticeKind, due: datetime) -> str:
    """One reminder per deadline: a window extended to a new deadline is reminded of again."""
    return f"{prefix}/{kind.value}/{due.isoformat()}"


def reminder_at(inp: OfferInput, memory: OfferMemory, due: datetime, prefix: str) -> datetime | None:
    """When to remind before `due`, once per deadline, and only if the lead time fits.

    A reminder whose time had passed when the offer entered its state is not sent: the notice of that
    state named the deadline already, and a round opened hours before its deadline is not a reminder.
    """
    kind = reminder_kind(memory.state)
    assert kind is not None
    at = due - inp.remind_before
    if at <= memory.entered_at or reminder_key(prefix, kind, due) in memory.reminded:
        return None
    return at


class Notices:
    """The notices of one run: each sent without waiting, and tracked until its activity ends.

    The run closes the offer only once everyone is told, and a run that continues as new carries the notices
    still on their way into the next, which sends them again under the same keys (they arrive once).
    """

    def __init__(self, record: Callable[[str, str, str], None]) -> None:
        self._record = record
        self._sending: dict[str, Notice] = {}
        self._enabled: bool | None = None

    def enabled(self) -> bool:
        """Offers started before NOTIFY_PEOPLE tell nobody and set no reminders; they replay so."""
        if self._enabled is None:
            self._enabled = patched(NOTIFY_PEOPLE)
        return self._enabled

    @staticmethod
    def prefix() -> str:
        """What every key of this offer's notices starts with: the offer, and its first run."""
        info = workflow.info()
        return f"{info.workflow_id}@{info.first_execution_run_id[:8]}"

    def tell(
        self,
        inp: OfferInput,
        memory: OfferMemory,
        kind: NoticeKind,
        *,
        note: str = "",
        findings: list[Finding] | None = None,
        key: str | None = None,
    ) -> None:
        """Tell the event's audience, without waiting."""
        if not self.enabled():
            return
        key = key or f"{self.prefix()}/{kind.value}/{memory.revision}"
        self.send(notice_for(inp, memory, kind, key=key, at=workflow.now(), note=note, findings=findings or []))

    def reminder_due(self, inp: OfferInput, memory: OfferMemory, due: datetime | None) -> datetime | None:
        """When the run's timer should wake to remind before `due`: None for no reminder."""
        kind = reminder_kind(memory.state)
        if due is None or kind is None or inp.remind_before <= timedelta(0) or not self.enabled():
            return None
        return reminder_at(inp, memory, due, self.prefix())

    def remind(self, inp: OfferInput, memory: OfferMemory, due: datetime) -> None:
        kind = reminder_kind(memory.state)
        assert kind is not None
        key = reminder_key(self.prefix(), kind, due)
        memory.reminded = [*memory.reminded[-(REMINDERS_KEPT - 1) :], key]
        self.tell(inp, memory, kind, key=key)

    def send(self, notice: Notice) -> None:
        self._sending[notice.key] = notice
        asyncio.create_task(self._deliver(notice))  # noqa: RUF006  (tracked in self._sending until it ends)

    def pending(self) -> list[Notice]:
        """The notices not yet done."""
        return list(self._sending.values())

    def all_told(self) -> bool:
        return not self._sending

    async def _deliver(self, notice: Notice) -> None:
        try:
            if legacy():
                await self._mail(notice)
            else:
                await self._post(notice)
        except (ActivityError, ApplicationError) as e:  # a local activity's failure arrives unwrapped
            self._record("system", "could not send a notice", f"{notice.kind.value}: {failure_reason(e)}")
        finally:
            self._sending.pop(notice.key, None)

    @staticmethod
    async def _post(notice: Notice) -> None:
        """File the notice in the outbox: one marker in the history, no task of its own; the worker's postman
        mails it, with retries for NOTICE_PATIENCE, outside the workflow."""
        await workflow.execute_local_activity_method(
            NotifyActivities.post,
            notice,
            start_to_close_timeout=POST_TIMEOUT,
            schedule_to_close_timeout=NOTICE_PATIENCE,
            retry_policy=NOTICE_RETRY,
        )

    @staticmethod
    async def _mail(notice: Notice) -> None:
        """A legacy offer's notice: an activity on the mail queue, retried by Temporal until the server takes it."""
        await workflow.execute_activity_method(
            NotifyActivities.notify,
            notice,
            task_queue=mail_queue(workflow.info().task_queue),
            start_to_close_timeout=NOTICE_TIMEOUT,
            heartbeat_timeout=NOTICE_HEARTBEAT,
            schedule_to_close_timeout=NOTICE_PATIENCE,
            retry_policy=NOTICE_RETRY,
        )
