"""Long offers on a real dev server: a full schedule through many versions and thousands of decisions.

Issue 11, "Done when": every run of a long-lived offer stays far from Temporal's limits, the offer continues
as new with its trail intact, and the history grows by the same bytes per update whatever the document's size.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.store import ObjectStore
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.answer import Accept
from schemas.document_ref import canonical_bytes
from schemas.offer_state import OfferState
from schemas.review import Approve, Comment, RequestChanges
from tests.conftest import round_spec
from workflows.names import offer_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")

T = TypeVar("T")

LINES = 15_000
VERSIONS = 10
COMMENTS = 3_000
"""Besides the submissions, amendments, approvals and requests for changes (24 more updates)."""
SENT_BACK = {3, 6, 9}
"""After these versions a reviewer requests changes before the negotiator amends."""
CONCURRENCY = 8

EVENT_LIMIT = 10_240
BYTES_LIMIT = 10 * 1024 * 1024
UPDATES_LIMIT = 2_000


@dataclass
class RunFigures:
    run_id: str
    status: WorkflowExecutionStatus | None
    events: int
    size: int
    updates: int


def history_size(history: WorkflowHistory) -> int:
    return sum(e.ByteSize() for e in history.events)


def accepted_updates(history: WorkflowHistory) -> int:
    return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)


async def all_runs(env: WorkflowEnvironment, workflow_id: str, expected: int) -> list[RunFigures]:
    """Every run of the workflow, oldest first, once visibility lists them all and the last one is closed."""
    give_up = time.monotonic() + 30
    while True:
        listed = [wf async for wf in env.client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        closed = all(wf.status is not None and wf.status != WorkflowExecutionStatus.RUNNING for wf in listed)
        if (len(listed) >= expected and closed) or time.monotonic() > give_up:
            break
        await asyncio.sleep(0.5)
    runs = []
    for wf in sorted(listed, key=lambda w: w.start_time):
        history = await env.client.get_workflow_handle(workflow_id, run_id=wf.run_id).fetch_history()
        runs.append(
            RunFigures(wf.run_id, wf.status, len(history.events), history_size(history), accepted_updates(history))
        )
    return runs


async def test_a_full_schedule_lives_through_ten_versions_and_3000_decisions_to_a_letter(
    env: WorkflowEnvironment, worker: None, store: ObjectStore
) -> None:
    started = time.monotonic()
    engine = Engine(env.client, store, update_timeout=60)
    spec = round_spec(["JP"], deadline_in=timedelta(minutes=30), review_window=timedelta(minutes=30), approvals=2)
    await engine.open_round(spec)
    rid, partner = spec.round_id, "JP"
    sem = asyncio.Semaphore(CONCURRENCY)
    updates = 0
    sent: list[str] = []

    async def bounded(call: Awaitable[T]) -> T:
        nonlocal updates
        async with sem:
            result = await call
        updates += 1
        return result

    async def comments(version: int, count: int) -> None:
        texts = [f"v{version} remark {n}: check the staging of chapter {n % 97:02d}" for n in range(count)]
        sent.extend(texts)
        answers = await asyncio.gather(
            *(
                bounded(engine.comment(rid, partner, Comment(reviewer=f"Reviewer {n % 5}", text=t)))
                for n, t in enumerate(texts)
            )
        )
        assert all(a.version == version for a in answers)

    per_version = COMMENTS // (VERSIONS + 1)
    receipt = await bounded(engine.submit(sample_offer(rid, partner, lines=LINES, seed=0), by="negotiator"))
    assert (receipt.version, receipt.state) == (1, OfferState.UNDER_REVIEW)
    for version in range(1, VERSIONS):
        await comments(version, per_version)
        ada = await bounded(engine.approve(rid, partner, Approve(reviewer="Ada", version=version)))
        assert (ada.state, ada.approvals) == (OfferState.UNDER_REVIEW, 1)
        if version in SENT_BACK:
            back = await bounded(
                engine.request_changes(
                    rid, partner, RequestChanges(reviewer="Grace", version=version, note=f"Rework v{version}.")
                )
            )
            assert (back.state, back.approvals) == (OfferState.DEFICIENT, 0)
        document = sample_offer(rid, partner, lines=LINES, seed=version)
        receipt = await bounded(engine.submit(document, amend=True, by="negotiator"))
        assert (receipt.version, receipt.duplicate, receipt.state) == (version + 1, False, OfferState.UNDER_REVIEW)
    await comments(VERSIONS, COMMENTS - len(sent))
    await bounded(
        engine.approve(rid, partner, Approve(reviewer="Ada", version=VERSIONS, rate_pct=15, reason="as agreed in July"))
    )
    last = await bounded(engine.approve(rid, partner, Approve(reviewer="Grace", version=VERSIONS)))
    assert last.state in (OfferState.APPROVED, OfferState.LETTER_ISSUED)
    assert updates == COMMENTS + VERSIONS + (VERSIONS - 1) + len(SENT_BACK) + 2 >= 3_000
    decided = time.monotonic()

    card = await engine.wait_for(rid, partner, {OfferState.LETTER_ISSUED}, timedelta(seconds=180))
    assert card.letter is not None
    pdf = await engine.letter_bytes(card.letter)
    assert pdf.startswith(b"%PDF-") and len(pdf) == card.letter.size
    lettered = time.monotonic()
    accepted = await bounded(engine.accept(rid, partner, Accept(by="negotiator", letter=1)))  # the offer completes
    assert accepted.state is OfferState.ACCEPTED

    wid = offer_workflow_id(rid, partner)
    runs = await all_runs(env, wid, expected=card.run)
    assert len(runs) == card.run > 1, "the offer continued as new, and visibility lists every run"
    assert [r.status for r in runs] == [WorkflowExecutionStatus.CONTINUED_AS_NEW] * (len(runs) - 1) + [
        WorkflowExecutionStatus.COMPLETED
    ]
    for r in runs:
        assert r.events < EVENT_LIMIT, r
        assert r.size < BYTES_LIMIT, r
        assert r.updates < UPDATES_LIMIT, r
    assert sum(r.updates for r in runs) == updates  # each update accepted once, by one run

    status = await engine.offer_status(rid, partner)
    assert status.state is OfferState.ACCEPTED and status.closed is None
    assert [v.number for v in status.versions] == list(range(1, VERSIONS + 1))
    assert all(
        v.size > 2_000_000 and v.summary is not None and v.summary.tariff_lines == LINES for v in status.versions
    )
    assert all(v.report is not None and v.report.clean for v in status.versions)
    commented = [e.detail for e in status.events if e.action == "commented"]
    assert len(commented) == len(sent) == COMMENTS
    assert sorted(commented) == sorted(sent)
    actions = [e.action for e in status.events]
    assert actions[:2] == ["invited", "submitted"]
    assert actions.count("amended") == VERSIONS - 1
    assert actions.count("requested changes") == len(SENT_BACK)
    assert actions.count("approved") == VERSIONS + 1
    assert actions[-2:] == ["issued the letter", "accepted"]
    assert status.letter == card.letter and status.deal is not None and status.deal.letter == 1
    assert status.terms is not None and status.terms.agreed_rate_pct == 15

    print(
        f"\nlong offer: {updates} updates, {len(runs)} runs, "
        f"max {max(r.events for r in runs):,} events / {max(r.size for r in runs):,} bytes / "
        f"{max(r.updates for r in runs)} updates per run; card (memo) {len(card.model_dump_json()):,} bytes; "
        f"letter {len(pdf):,} bytes; "
        f"decisions {decided - started:.1f} s, letter {lettered - decided:.1f} s, "
        f"total {time.monotonic() - started:.1f} s"
    )
    for n, r in enumerate(runs, 1):
        print(f"  run {n}: {r.events:,} events, {r.size:,} bytes, {r.updates} updates, {r.status and r.status.name}")


@dataclass
class Mark:
    run_id: str
    events: int
    size: int


@dataclass
class Growth:
    submit_bytes: int
    submit_events: int
    update_bytes: float
    update_events: float


async def settled(env: WorkflowEnvironment, workflow_id: str) -> Mark:
    """The current run's history once it has stopped moving (its last workflow task written)."""
    handle = env.client.get_workflow_handle(workflow_id)
    previous: Mark | None = None
    give_up = time.monotonic() + 30
    while True:
        run_id = (await handle.describe()).run_id
        history = await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        mark = Mark(run_id, len(history.events), history_size(history))
        if mark == previous or time.monotonic() > give_up:
            return mark
        previous = mark
        await asyncio.sleep(0.3)


async def test_history_grows_the_same_per_update_for_20_and_15000_lines(
    env: WorkflowEnvironment, worker: None, store: ObjectStore
) -> None:
    engine = Engine(env.client, store, update_timeout=60)
    spec = round_spec(["EU", "JP"], deadline_in=timedelta(minutes=10), review_window=timedelta(minutes=10))
    await engine.open_round(spec)
    rid = spec.round_id
    comments = 20
    updates = comments + 1
    growth: dict[int, Growth] = {}
    for partner, lines in (("EU", 20), ("JP", LINES)):
        wid = offer_workflow_id(rid, partner)
        document = sample_offer(rid, partner, lines=lines, seed=0)
        invited = await settled(env, wid)
        receipt = await engine.submit(document, by="negotiator")
        assert receipt.state is OfferState.UNDER_REVIEW
        submitted = await settled(env, wid)
        for _ in range(comments):
            text = "Please confirm the staging of chapter 87."
            await engine.comment(rid, partner, Comment(reviewer="Ada", text=text))
        answer = await engine.approve(rid, partner, Approve(reviewer="Ada", version=1))
        assert (answer.state, answer.approvals) == (OfferState.UNDER_REVIEW, 1)
        decided = await settled(env, wid)
        assert invited.run_id == submitted.run_id == decided.run_id, "no continue-as-new inside the measurement"
        g = growth[lines] = Growth(
            submit_bytes=submitted.size - invited.size,
            submit_events=submitted.events - invited.events,
            update_bytes=(decided.size - submitted.size) / updates,
            update_events=(decided.events - submitted.events) / updates,
        )
        print(
            f"\n{lines:>6} lines ({len(canonical_bytes(document)):,} bytes): "
            f"submit +{g.submit_bytes:,} bytes / +{g.submit_events} events; "
            f"per update (mean of {updates}) +{g.update_bytes:,.1f} bytes / +{g.update_events:.1f} events"
        )
    small, large = growth[20], growth[LINES]
    assert large.submit_bytes < 20_000, "a 2.3 MB document goes into the history by reference only"
    assert abs(large.submit_bytes - small.submit_bytes) < 1_000
    assert small.update_bytes > 0 and large.update_events == small.update_events
    difference = abs(large.update_bytes - small.update_bytes)
    assert difference < min(300, 0.05 * small.update_bytes), f"per-update growth differs by {difference:.1f} bytes"
