"""What an offer writes into Temporal's history (issue 26): counted from real histories, never timed.

New offers run as OfferWorkflowV2: no patch marker, one search-attribute upsert and one memo at most per workflow
task, one timer per deadline (an approval that moves no deadline leaves the timer running), notices as local
activities. Offers started before run on as the legacy type OfferWorkflow, with their patches, and still work.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from activities.names import NOTIFY, POST_NOTICE
from benchmarks.history import offer_cost, runs, until_letter
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.offer_state import OfferInput, OfferState
from schemas.review import Approve
from tests.conftest import round_spec
from workflows.names import OFFER_PARTNER, OFFER_ROUND, OFFER_STATE, offer_workflow_id
from workflows.patches import LEGACY_OFFER_TYPE, OFFER_TYPE
from workflows.round import OFFER_TERMS

pytestmark = pytest.mark.asyncio(loop_scope="session")
WAIT = timedelta(seconds=60)
E = EventType


def _tasks(events: list[HistoryEvent]) -> list[list[HistoryEvent]]:
    """The events each workflow task's completion recorded: from a WORKFLOW_TASK_COMPLETED to the next task."""
    out: list[list[HistoryEvent]] = []
    for event in events:
        if event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            out.append([])
        elif event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            continue
        elif out:
            out[-1].append(event)
    return out


def _markers(events: list[HistoryEvent]) -> Counter[str]:
    return Counter(
        e.marker_recorded_event_attributes.marker_name for e in events if e.event_type == E.EVENT_TYPE_MARKER_RECORDED
    )


async def test_an_offer_to_its_letter_is_five_tasks_without_patch_markers(engine: Engine) -> None:
    spec = round_spec(["JP"], deadline_in=timedelta(hours=1))
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, "JP"), by="negotiator")
    await engine.approve(rid, "JP", Approve(reviewer="Ada", version=1))
    await engine.approve(rid, "JP", Approve(reviewer="Grace", version=1))
    await engine.wait_for(rid, "JP", {OfferState.LETTER_ISSUED}, WAIT)
    [events] = await runs(engine.client, offer_workflow_id(rid, "JP"))
    assert events[0].workflow_execution_started_event_attributes.workflow_type.name == OFFER_TYPE

    letter = until_letter(events)
    assert letter is not None
    cost = offer_cost([events])
    assert cost["tasks_to_letter"] == 5, "its start, the submission, two approvals, the letter"
    assert cost["events_to_letter"] <= 40
    assert "core_patch" not in _markers(events)
    for task in _tasks(letter):
        kinds = Counter(e.event_type for e in task)
        assert kinds[E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES] <= 1, task
        assert kinds[E.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED] <= 1, task
    # Timers: the submission deadline, then the review deadline (the first approval keeps it), then the response
    # window; each earlier one cancelled when its deadline went.
    kinds = Counter(e.event_type for e in letter)
    assert kinds[E.EVENT_TYPE_TIMER_STARTED] == 3 and kinds[E.EVENT_TYPE_TIMER_CANCELED] == 2
    # Notices are local activities: the reviewers told of the submission, the negotiator of the letter.
    assert _markers(letter)["core_local_activity"] == 3, "the assessment and two notices"
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in letter
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert NOTIFY not in scheduled and POST_NOTICE not in scheduled and len(scheduled) == 1  # the letter


async def test_an_offer_of_the_legacy_type_runs_on_with_its_patches(engine: Engine) -> None:
    """An offer started before issue 26 (OfferWorkflow) is served by today's worker as it was: patch markers,
    notices as activities on the mail queue, and the letter."""
    spec = round_spec(["VN"], deadline_in=timedelta(hours=1), approvals=1)
    rid = spec.round_id
    [partner] = spec.partners
    workflow_id = offer_workflow_id(rid, "VN")
    await engine.client.start_workflow(
        LEGACY_OFFER_TYPE,
        OfferInput(partner=partner, **spec.model_dump(include=OFFER_TERMS)),
        id=workflow_id,
        task_queue=engine.task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(OFFER_ROUND, rid),
                SearchAttributePair(OFFER_PARTNER, "VN"),
                SearchAttributePair(OFFER_STATE, "INVITED"),
            ]
        ),
    )
    await engine.submit(sample_offer(rid, "VN"), by="negotiator")
    await engine.approve(rid, "VN", Approve(reviewer="Ada", version=1))
    card = await engine.wait_for(rid, "VN", {OfferState.LETTER_ISSUED}, WAIT)
    assert card.letter is not None
    for _ in range(100):  # its notice activities complete after the letter's task
        [events] = await runs(engine.client, workflow_id)
        scheduled = {
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in events
            if e.HasField("activity_task_scheduled_event_attributes")
        }
        if NOTIFY in scheduled:
            break
        await asyncio.sleep(0.1)
    assert events[0].workflow_execution_started_event_attributes.workflow_type.name == LEGACY_OFFER_TYPE
    assert _markers(events)["core_patch"] >= 3, "compact, notify-people and negotiate asked and recorded"
    assert NOTIFY in scheduled
