"""The desk's one way to act for a person: check the role, do the work, and record in the audit log how it ended."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from offerdesk.engine import Engine, Refused
from offerdesk.people import People
from offerdesk.people.audit import Entry
from offerdesk.people.principal import Principal
from offerdesk.people.users import AccountError
from offerdesk.portal.access import Action, Forbidden, NotFound, require
from offerdesk.portal.metrics import timed_people

T = TypeVar("T")
P = ParamSpec("P")

REFUSALS = (Forbidden, NotFound, Refused, AccountError)
"""What a person's request can end in besides success: each is recorded, then raised for the router to say."""


def in_thread(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Callable[[], Awaitable[T]]:
    """`call` as work for the desk: run off the event loop, as the people's records block on their database."""
    return lambda: asyncio.to_thread(call, *args, **kwargs)


def _outcome(refusal: Exception) -> str:
    if isinstance(refusal, Forbidden):
        return "forbidden"
    return "not found" if isinstance(refusal, NotFound) else "refused"


class DeskBase:
    def __init__(self, engine: Engine, people: People) -> None:
        self.engine = engine
        self.people = timed_people(people)  # each call to the people's records timed (offerdesk_database_seconds)

    async def _audited(
        self,
        who: Principal,
        need: Action | None,
        work: Callable[[], Awaitable[T]],
        *,
        round_id: str | None = None,
        partner: str | None = None,
        detail: str | Callable[[T], str] = "",
        what: str | None = None,
        quiet: bool = False,
    ) -> T:
        """Check that `who` may do `need` (None: the work checks), do the work, and record the attempt under `what`
        (by default the action's name): every refusal, and every success unless `quiet`.

        Quiet are the reads of state that pages and programs poll (an offer's status, lists, dashboards); what
        shows an offer's content or a file, and every change, is recorded whenever it happens.
        """
        action = what or (need.value if need else "")
        try:
            if need is not None:
                require(who, need, round_id, partner)
            result = await work()
        except REFUSALS as e:
            said = f"{detail if isinstance(detail, str) else ''} {e}".strip()
            await self._record(Entry(who.name, who.role.value, action, _outcome(e), round_id, partner, said))
            raise
        if not quiet:
            said = detail if isinstance(detail, str) else detail(result)
            await self._record(Entry(who.name, who.role.value, action, "done", round_id, partner, said))
        return result

    async def _record(self, entry: Entry) -> None:
        await asyncio.to_thread(self.people.audit.record, entry)
