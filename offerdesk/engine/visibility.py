"""What Temporal's own records say of offers and rounds: visibility listings, memos, how a run ended.

Reads that need no worker: the listing's search attributes, the card each offer publishes as its memo, and the
last event of a run that did not complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus

from schemas.listing import OfferListing
from schemas.offer_state import ClosedRun, OfferCard, OfferState
from workflows.names import OFFER_PARTNER, OFFER_REVIEW_DEADLINE, OFFER_ROUND, OFFER_STATE, round_workflow_id

T = TypeVar("T", bound=BaseModel)

CLOSED_AS = {
    WorkflowExecutionStatus.TERMINATED: OfferState.TERMINATED,
    WorkflowExecutionStatus.CANCELED: OfferState.TERMINATED,
    WorkflowExecutionStatus.FAILED: OfferState.FAILED,
    WorkflowExecutionStatus.TIMED_OUT: OfferState.FAILED,
}
"""How Temporal says an execution ended other than by completing, and what an offer shows for it."""
_LETTER_STATES = frozenset(
    s.value for s in (OfferState.LETTER_ISSUED, OfferState.LETTER_FAILED, OfferState.ACCEPTED, OfferState.UNANSWERED)
)
"""States whose listing shows what the card says of letters: the latest, how many, the answer due, the deal."""


def offer_clauses(
    round_id: str | None = None, state: OfferState | None = None, partner: str | None = None
) -> list[str]:
    """The visibility query for offers: TERMINATED and FAILED come from Temporal's status, not the offer's."""
    clauses = [f"{OFFER_PARTNER.name} IS NOT NULL", "ExecutionStatus != 'ContinuedAsNew'"]
    if round_id is not None:
        clauses.append(f"{OFFER_ROUND.name} = {quote(round_id)}")
    if state is OfferState.TERMINATED:
        clauses.append("ExecutionStatus IN ('Terminated', 'Canceled')")
    elif state is OfferState.FAILED:
        clauses.append("ExecutionStatus IN ('Failed', 'TimedOut')")
    elif state is not None:
        clauses.append(f"{OFFER_STATE.name} = {quote(state.value)}")
        clauses.append("ExecutionStatus IN ('Running', 'Completed')")
    if partner is not None:
        clauses.append(f"{OFFER_PARTNER.name} = {quote(partner)}")
    return clauses


async def listed(
    client: Client, clauses: list[str], cards: bool = True
) -> AsyncIterator[tuple[OfferListing, OfferCard | None]]:
    """Offers as visibility lists them, each with the card its memo holds; TERMINATED / FAILED from Temporal.

    With `cards` False, a card is decrypted and read only where the listing needs it (its letters, why the letter
    failed, the answer due, the deal): most of a long list's time went to decoding cards for nothing.
    """
    async for wf in client.list_workflows(" AND ".join(clauses)):
        sa = wf.typed_search_attributes
        shown = CLOSED_AS.get(wf.status) if wf.status is not None else None
        state = sa.get(OFFER_STATE)
        card = await memo(wf, "card", OfferCard) if cards or state in _LETTER_STATES else None
        listing = OfferListing(
            round_id=sa.get(OFFER_ROUND) or "",
            partner=sa.get(OFFER_PARTNER) or "",
            state=shown or OfferState(state or OfferState.INVITED),
            review_deadline=None if shown else sa.get(OFFER_REVIEW_DEADLINE),
            workflow_id=wf.id,
            running=wf.close_time is None,
            letter=card.letter if card else None,
            letter_failure=card.letter_failure if card else None,
            letters=len(card.numbered_letters()) if card else 0,
            respond_by=card.respond_by if card else None,
            deal=card.deal if card else None,
        )
        yield listing, card


async def round_ids(client: Client) -> list[str]:
    """Round ids, newest first, as Temporal visibility lists them."""
    from workflows.round import RoundWorkflow  # here: listing offers need not load the workflows (issue 26)

    rounds: list[tuple[datetime, str]] = []
    async for wf in client.list_workflows(f"WorkflowType = {quote(RoundWorkflow.__name__)}"):
        rounds.append((wf.start_time, wf.id.removeprefix(round_workflow_id(""))))
    return [r for _, r in sorted(rounds, reverse=True)]


async def closed_run(client: Client, description: WorkflowExecutionDescription) -> ClosedRun | None:
    """Temporal's word on a run that ended other than by completing: its status, when, and why."""
    status = description.status
    if status not in CLOSED_AS:
        return None
    answer = await client.workflow_service.get_workflow_execution_history_reverse(
        GetWorkflowExecutionHistoryReverseRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=description.id, run_id=description.run_id),
            maximum_page_size=1,
        )
    )
    reason = why_ended(answer.history.events[0]) if answer.history.events else ""
    assert status is not None
    return ClosedRun(status=status.name, at=description.close_time, reason=reason)


async def memo(source: Any, key: str, kind: type[T]) -> T | None:
    try:
        return cast(T, await source.memo_value(key, type_hint=kind))
    except KeyError:
        return None


def why_ended(event: HistoryEvent) -> str:
    if event.HasField("workflow_execution_terminated_event_attributes"):
        attributes = event.workflow_execution_terminated_event_attributes
        who = f" by {attributes.identity}" if attributes.identity else ""
        return f"terminated{who}: {attributes.reason or 'no reason given'}"
    if event.HasField("workflow_execution_failed_event_attributes"):
        return f"failed: {event.workflow_execution_failed_event_attributes.failure.message}"
    if event.HasField("workflow_execution_timed_out_event_attributes"):
        return "timed out: the workflow's run timeout passed"
    if event.HasField("workflow_execution_canceled_event_attributes"):
        return "cancelled"
    return ""


def quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
