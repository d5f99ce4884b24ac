"""What one offer costs the engine, counted from Temporal's own record (history events and workflow tasks), and
waiting for an offer's letter the same way: its history, long-polled.

Counts, unlike times, do not move with the machine. Each offer is counted from its invitation (the first event
of its first run) to its letter (the end of the workflow task that issued it), every run of it counted; and to
the deal its partner accepted, the whole history. The round's own history is shared by its offers and reported
apart, per offer.
"""

from __future__ import annotations

import statistics
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from offerdesk.engine import Engine
from schemas.answer import Accept
from schemas.offer_state import OfferOutcome
from workflows.names import offer_workflow_id, round_workflow_id

TASK_DONE = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
TASK_SCHEDULED = EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
ISSUED = b'"LETTER_ISSUED"'


async def runs(client: Client, workflow_id: str) -> list[list[HistoryEvent]]:
    """Every run of a workflow, oldest first: each run's first event names the run it continues."""
    found = [list((await client.get_workflow_handle(workflow_id).fetch_history()).events)]
    while previous := found[0][0].workflow_execution_started_event_attributes.continued_execution_run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=previous).fetch_history()
        found.insert(0, list(history.events))
    return found


def _issues_letter(event: HistoryEvent) -> bool:
    if not event.HasField("upsert_workflow_search_attributes_event_attributes"):
        return False
    fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    return "OfferState" in fields and fields["OfferState"].data == ISSUED


def until_letter(events: list[HistoryEvent]) -> list[HistoryEvent] | None:
    """The events up to the end of the workflow task that issued the first letter; None if this run issued none."""
    for n, event in enumerate(events):
        if _issues_letter(event):
            end = next((k for k in range(n, len(events)) if events[k].event_type == TASK_SCHEDULED), len(events))
            return events[:end]
    return None


def offer_cost(offer_runs: list[list[HistoryEvent]]) -> dict[str, int]:
    """Events and workflow tasks of one offer: to its letter, and in all (to the deal)."""
    to_letter: list[HistoryEvent] = []
    for events in offer_runs:
        cut = until_letter(events)
        to_letter += events if cut is None else cut
        if cut is not None:
            break
    every = [e for events in offer_runs for e in events]
    return {
        "events_to_letter": len(to_letter),
        "tasks_to_letter": sum(e.event_type == TASK_DONE for e in to_letter),
        "events": len(every),
        "tasks": sum(e.event_type == TASK_DONE for e in every),
        "runs": len(offer_runs),
    }


async def history_cost(client: Client, round_id: str, partners: list[str]) -> dict[str, Any]:
    """The mean cost per offer of a round whose letters were all issued (and accepted)."""
    costs = [offer_cost(await runs(client, offer_workflow_id(round_id, p))) for p in partners]
    round_events = sum(len(r) for r in await runs(client, round_workflow_id(round_id)))

    def mean(key: str) -> float:
        return statistics.fmean(c[key] for c in costs)

    return {
        "events_per_offer": mean("events_to_letter"),
        "workflow_tasks_per_offer": mean("tasks_to_letter"),
        "events_per_offer_max": max(c["events_to_letter"] for c in costs),
        "workflow_tasks_per_offer_max": max(c["tasks_to_letter"] for c in costs),
        "events_per_offer_to_the_deal": mean("events"),
        "workflow_tasks_per_offer_to_the_deal": mean("tasks"),
        "runs_per_offer": mean("runs"),
        "round_events_per_offer": round_events / len(partners),
        "history_method": "Temporal's history of every offer of the round, every run: events and completed "
        "workflow tasks from the first event to the end of the workflow task that issued its letter "
        "(events_per_offer) and to the deal its partner accepted (…_to_the_deal); the round's own history "
        "apart, divided by its offers",
    }


LETTER_STATES = {b'"LETTER_ISSUED"', b'"LETTER_FAILED"'}


async def letter_accepted(engine: Engine, round_id: str, partner: str) -> OfferOutcome:
    """Wait for the offer's letter without polling (the history long-polls for new events), then accept it, as its
    partner would, so that its workflow completes: a letter awaits an answer since issue 25."""
    handle = engine.client.get_workflow_handle(offer_workflow_id(round_id, partner), result_type=OfferOutcome)
    async for event in handle.fetch_history_events(wait_new_event=True):
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            if "OfferState" in fields and fields["OfferState"].data in LETTER_STATES:
                break
    await engine.accept(round_id, partner, Accept(by="benchmark", letter=1))
    outcome: OfferOutcome = await handle.result()
    return outcome
