"""A worker stopped mid-round and replaced loses nothing: state lives in Temporal, not in the worker."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.names import RENDER_STORED_LETTER
from offerdesk.config import Settings
from offerdesk.engine import EngineUnavailable
from offerdesk.samples import sample_offer
from offerdesk.worker import worker_for
from schemas.offer_state import OfferState
from schemas.review import Approve
from schemas.round import RoundSpec
from tests.conftest import own_installation, round_spec, worker_running
from workflows.names import offer_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_restarted_worker_carries_on_and_applies_nothing_its_caller_gave_up_on(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec]
) -> None:
    queue = "restart-test"
    local, engine = own_installation(env, settings, tmp_path, queue, update_timeout=3)
    spec = round_spec(["JP", "EU"])
    closing.append(spec)
    rid = spec.round_id

    with worker_for(env.client, local, render_workers=1, task_queue=queue) as first:
        async with first:
            await engine.open_round(spec)
            await engine.submit(sample_offer(rid, "JP"), by="negotiator")
            await engine.submit(sample_offer(rid, "EU", deficient=True), by="negotiator")
            await engine.approve(rid, "JP", Approve(reviewer="Ada", version=1))

    # No worker now: the approval is answered within the update timeout, and it is not applied later either.
    started = asyncio.get_running_loop().time()
    with pytest.raises(EngineUnavailable, match=r"no worker .*not applied|no worker is running"):
        await engine.approve(rid, "JP", Approve(reviewer="Grace", version=1))
    assert asyncio.get_running_loop().time() - started < 6  # the timeout is 3 s; a loaded machine adds a little
    # Reads need no worker: the offer's card, the round, the listing.
    card, _ = await engine.offer_card(rid, "JP")
    assert card.state is OfferState.UNDER_REVIEW and [a.reviewer for a in card.approvals] == ["Ada"]
    assert (await engine.round_status(rid)).partners == ["JP", "EU"]

    with worker_for(env.client, local, render_workers=1, task_queue=queue) as second:
        async with second:
            await asyncio.sleep(1.0)  # the stale approval reaches the workflow now, and is refused there
            card, _ = await engine.offer_card(rid, "JP")
            assert [a.reviewer for a in card.approvals] == ["Ada"], "a request its sender gave up on was applied"
            approved = await engine.approve(rid, "JP", Approve(reviewer="Grace", version=1))
            assert approved.approvals == 2 or approved.state is OfferState.APPROVED
            done = await engine.wait_for(rid, "JP", {OfferState.LETTER_ISSUED}, timeout=timedelta(seconds=60))
            eu, _ = await engine.offer_card(rid, "EU")

    assert done.letter is not None
    assert (await engine.letter_bytes(done.letter))[:4] == b"%PDF"
    assert [v.number for v in done.versions] == [1]
    assert eu.state is OfferState.DEFICIENT and len(eu.versions) == 1


async def _render_span(env: WorkflowEnvironment, round_id: str, partner: str) -> tuple[datetime, datetime]:
    """When the letter activity of one offer started and completed, as its history records them (not its notices)."""
    history = await env.client.get_workflow_handle(offer_workflow_id(round_id, partner)).fetch_history()

    letters = {
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == RENDER_STORED_LETTER
    }
    started = [
        e.event_time.ToDatetime()
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.scheduled_event_id in letters
    ]
    ended = [
        e.event_time.ToDatetime()
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        and e.activity_task_completed_event_attributes.scheduled_event_id in letters
    ]
    assert len(started) == len(ended) == 1, (started, ended)
    return started[0], ended[0]


async def test_a_worker_takes_no_more_letters_than_it_has_render_processes(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec]
) -> None:
    # A letter waiting on the task queue can go to any worker, and its start-to-close clock has not started.
    queue = "one-renderer"
    local, engine = own_installation(env, settings, tmp_path, queue)
    partners = ["JP", "EU", "CH"]
    spec = round_spec(partners, approvals=1)
    closing.append(spec)
    rid = spec.round_id
    async with worker_running(env.client, local, queue):
        await engine.open_round(spec)
        for p in partners:
            await engine.submit(sample_offer(rid, p, lines=40, seed=7), by="negotiator")
        await asyncio.gather(*(engine.approve(rid, p, Approve(reviewer="Ada", version=1)) for p in partners))
        for p in partners:
            await engine.wait_for(rid, p, {OfferState.LETTER_ISSUED}, timeout=timedelta(seconds=120))
    spans = sorted([await _render_span(env, rid, p) for p in partners])
    # The worker frees its slot as it reports a letter done, so the next may start a moment before the server
    # records the last one complete; a letter takes about a second, and uncapped ones overlap by seconds.
    for (_, ended), (next_started, _) in itertools.pairwise(spans):
        assert next_started >= ended - timedelta(milliseconds=250), f"a one-process worker took two letters: {spans}"
