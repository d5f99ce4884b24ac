"""Determinism: recorded workflow histories must replay on the current workflow code.

tests/histories/ holds histories recorded from earlier code; a change that breaks determinism for
offers already in flight fails here. `make histories` records a fresh set (commit them with the change
that makes the old ones obsolete, and say so in the commit message).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.names import NOTIFY, RENDER_STORED_LETTER
from offerdesk.config import Settings
from offerdesk.converter import Keyring, data_converter
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from offerdesk.worker import WORKFLOWS
from schemas.offer_state import OfferState
from schemas.review import Approve, RequestChanges, Withdraw
from tests.conftest import round_spec
from workflows.names import offer_workflow_id, round_workflow_id

HISTORIES = Path(__file__).parent / "histories"
HISTORY_KEYS = HISTORIES / "keys.json"
pytestmark = pytest.mark.asyncio(loop_scope="session")


def _replayer(converter: DataConverter) -> Replayer:
    return Replayer(workflows=WORKFLOWS, data_converter=converter)


async def _record(engine: Engine, env: WorkflowEnvironment) -> list[WorkflowHistory]:
    """A round that goes through every kind of transition: deficient, amend, changes, escalate, letter."""
    spec = round_spec(["JP", "VN", "CH"], deadline_in=timedelta(seconds=8), review_window=timedelta(seconds=4))
    rid = spec.round_id
    await engine.open_round(spec)
    await engine.submit(sample_offer(rid, "VN", deficient=True), by="negotiator")
    await engine.submit(sample_offer(rid, "VN"), amend=True, by="negotiator")
    await engine.submit(sample_offer(rid, "JP"), by="negotiator")
    await engine.request_changes(rid, "JP", RequestChanges(reviewer="Ada", note="More on quotas."))
    await engine.submit(sample_offer(rid, "JP", seed=2), amend=True, by="negotiator")
    await engine.approve(rid, "JP", Approve(reviewer="Ada", rate_pct=15, reason="July deal"))
    await engine.approve(rid, "JP", Approve(reviewer="Grace"))
    await engine.wait_for(rid, "JP", {OfferState.LETTER_ISSUED}, timedelta(seconds=60))
    await engine.wait_for(rid, "VN", {OfferState.ESCALATED}, timedelta(seconds=60))
    await engine.withdraw(rid, "VN", Withdraw(by="n"))
    await engine.wait_for(rid, "CH", {OfferState.LAPSED}, timedelta(seconds=60))
    handle = env.client.get_workflow_handle(round_workflow_id(rid))
    await handle.result()
    ids = [round_workflow_id(rid)] + [offer_workflow_id(rid, p) for p in ("JP", "VN", "CH")]
    return [await env.client.get_workflow_handle(i).fetch_history() for i in ids]


async def test_fresh_histories_replay_and_committed_ones_still_do(
    engine: Engine, env: WorkflowEnvironment, settings: Settings
) -> None:
    fresh = await _record(engine, env)
    for history in fresh:
        await _replayer(env.client.data_converter).replay_workflow(history)
    scheduled = {
        e.activity_task_scheduled_event_attributes.activity_type.name
        for h in fresh
        for e in h.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    # Validation and the landing zone run locally; letters and notices are activities on their queues.
    assert scheduled == {RENDER_STORED_LETTER, NOTIFY}, scheduled
    if os.environ.get("OFFERDESK_RECORD_HISTORIES"):
        HISTORIES.mkdir(exist_ok=True)
        for history in fresh:
            kind, *rest = history.workflow_id.split("/")
            name = f"{kind}-{rest[-1]}.json" if kind == "offer" else f"{kind}.json"
            (HISTORIES / name).write_text(json.dumps(json.loads(history.to_json()), indent=1))
        # A test-only keyring: recorded payloads are encrypted, and the histories are useless without it.
        shutil.copyfile(settings.keys_file, HISTORY_KEYS)
    committed = sorted(p for p in HISTORIES.glob("*.json") if p != HISTORY_KEYS)
    # Older histories were recorded before payloads were encrypted: read them as a worker does while migrating.
    keyring = Keyring.load(HISTORY_KEYS) if HISTORY_KEYS.exists() else Keyring.new()
    recorded = data_converter(keyring, accept_plaintext=True)
    assert committed, "no recorded histories in tests/histories; run 'make histories'"
    for path in committed:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        result = await _replayer(recorded).replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
