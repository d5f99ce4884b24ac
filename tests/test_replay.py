"""Determinism: recorded workflow histories must replay on the current workflow code.

tests/histories/ holds histories recorded from earlier code, one folder per patch window (workflows/PATCHES.md):
the histories of offers started while the same patches were in force. A change that breaks determinism for
offers already in flight fails here. `make histories` records the current code's histories into the newest
window's folder when it has none yet (OFFERDESK_RECORD_HISTORIES=FOLDER names another); it never overwrites a
recorded history: those are what proves that offers in flight still replay.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
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

from activities.names import RENDER_STORED_LETTER
from offerdesk.config import Settings
from offerdesk.converter import Keyring, data_converter
from offerdesk.engine import Engine, EngineUnavailable, Refused
from offerdesk.samples import sample_offer
from offerdesk.worker import WORKFLOWS
from schemas.answer import Accept, CloseOffer, Reopen
from schemas.offer_state import OfferState
from schemas.review import Approve, Comment, RequestChanges, Withdraw
from tests.conftest import round_spec
from workflows.names import offer_workflow_id, round_workflow_id
from workflows.offer_transitions import MAX_RUN_UPDATES
from workflows.patches import DEPRECATED, LIVE

HISTORIES = Path(__file__).parent / "histories"
KEYS = "keys.json"
NEWEST_WINDOW = "6-offers-in-batches"
"""Where `make histories` records: the window of the newest patch in force (see workflows/PATCHES.md)."""
CONTINUING_COMMENTS = MAX_RUN_UPDATES + 10
"""Enough updates for an offer to continue as new, so a carry is recorded as the next run's input."""
ON_THE_SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")


def _replayer(converter: DataConverter) -> Replayer:
    return Replayer(workflows=WORKFLOWS, data_converter=converter)


def windows() -> list[Path]:
    return sorted(p for p in HISTORIES.iterdir() if p.is_dir())


def recorded(window: Path) -> list[Path]:
    return sorted(p for p in window.glob("*.json") if p.name != KEYS)


PARTNERS = ("JP", "VN", "CH", "KR", "MY")
WAIT = timedelta(seconds=60)


async def _record(engine: Engine, env: WorkflowEnvironment) -> list[WorkflowHistory]:
    """A round that goes through every kind of transition: deficient, amend, changes, escalate, letters answered
    by a counter-offer and an acceptance, a letter unanswered and closed, one unanswered and reopened whose offer
    is then commented on so often that it continues as new, letters and all (both its runs are kept), and is
    accepted in its second run."""
    spec = round_spec(
        list(PARTNERS),
        deadline_in=timedelta(seconds=8),
        review_window=timedelta(seconds=4),
        respond_within=timedelta(seconds=8),
    )
    rid = spec.round_id
    await engine.open_round(spec)
    for partner in ("KR", "MY"):
        await engine.submit(sample_offer(rid, partner), by="negotiator")
        await engine.approve(rid, partner, Approve(reviewer="Ada", version=1))
        await engine.approve(rid, partner, Approve(reviewer="Grace", version=1))
    await engine.submit(sample_offer(rid, "VN", deficient=True), by="negotiator")
    await engine.submit(sample_offer(rid, "VN"), amend=True, by="negotiator")
    await engine.submit(sample_offer(rid, "JP"), by="negotiator")
    await engine.request_changes(rid, "JP", RequestChanges(reviewer="Ada", version=1, note="More on quotas."))
    await engine.submit(sample_offer(rid, "JP", seed=2), amend=True, by="negotiator")
    await engine.approve(rid, "JP", Approve(reviewer="Ada", version=2, rate_pct=15, reason="July deal"))
    await engine.approve(rid, "JP", Approve(reviewer="Grace", version=2))
    await engine.wait_for(rid, "JP", {OfferState.LETTER_ISSUED}, WAIT)
    await engine.submit(sample_offer(rid, "JP", seed=3), amend=True, by="negotiator")  # a counter-offer
    await engine.approve(rid, "JP", Approve(reviewer="Ada", version=3))
    await engine.approve(rid, "JP", Approve(reviewer="Grace", version=3))
    for _ in range(300):  # letter 2
        if len((await engine.offer_card(rid, "JP"))[0].letters) == 2:
            break
        await asyncio.sleep(0.1)
    await engine.accept(rid, "JP", Accept(by="negotiator", letter=2))
    await engine.wait_for(rid, "MY", {OfferState.UNANSWERED}, WAIT)
    await engine.close(rid, "MY", CloseOffer(by="staff", reason="no reply"))
    await engine.wait_for(rid, "KR", {OfferState.UNANSWERED}, WAIT)
    await engine.reopen(rid, "KR", Reopen(by="staff", respond_within=timedelta(minutes=10), reason="asked for time"))
    before, letter = await engine.letter(rid, "KR", 1)
    assert letter is not None
    pdf = await engine.letter_bytes(letter.ref)
    await _comment_until_it_continues(engine, env, rid, "KR")
    # Its letter, versions and window rode through continue-as-new: the partner accepts letter 1 in the next run,
    # whose card then shows the same letter, unchanged, and the same versions.
    await engine.accept(rid, "KR", Accept(by="negotiator", letter=1))
    accepted = await engine.wait_for(rid, "KR", {OfferState.ACCEPTED}, WAIT)
    assert accepted.run == before.run + 1 and accepted.deal is not None and accepted.deal.letter == 1
    assert accepted.numbered_letters() == [letter] and accepted.versions == before.versions
    assert await engine.letter_bytes(letter.ref) == pdf
    await engine.wait_for(rid, "VN", {OfferState.ESCALATED}, WAIT)
    await engine.withdraw(rid, "VN", Withdraw(by="n"))
    await engine.wait_for(rid, "CH", {OfferState.LAPSED}, WAIT)
    handle = env.client.get_workflow_handle(round_workflow_id(rid))
    await handle.result()
    histories = [await env.client.get_workflow_handle(round_workflow_id(rid)).fetch_history()]
    for partner in PARTNERS:
        histories += await _runs(env, offer_workflow_id(rid, partner))
    return histories


async def _runs(env: WorkflowEnvironment, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow, oldest first: each run's first event names the run it continues."""
    runs = [await env.client.get_workflow_handle(workflow_id).fetch_history()]
    while previous := runs[0].events[0].workflow_execution_started_event_attributes.continued_execution_run_id:
        runs.insert(0, await env.client.get_workflow_handle(workflow_id, run_id=previous).fetch_history())
    return runs


async def _comment_until_it_continues(engine: Engine, env: WorkflowEnvironment, rid: str, partner: str) -> None:
    """Comments, 8 at a time, until the offer has continued as new: some meet the handover to the next run.

    A comment that meets the handover may be refused as stale or time out (as on main); it was not applied. On a
    busy machine more of them time out, so the batches go on until the run has changed, not for a fixed count.
    """
    handle = env.client.get_workflow_handle(offer_workflow_id(rid, partner))
    first_run = (await handle.describe()).run_id

    async def comment(n: int) -> None:
        with contextlib.suppress(Refused, EngineUnavailable):
            await engine.comment(rid, partner, Comment(reviewer="Ada", text=f"remark {n}"))

    for start in range(0, 3 * CONTINUING_COMMENTS, 8):  # Temporal takes 10 updates of one workflow at once
        await asyncio.gather(*(comment(n) for n in range(start, start + 8)))
        if (await handle.describe()).run_id != first_run:
            return
    raise AssertionError(f"{partner} did not continue as new after {3 * CONTINUING_COMMENTS} comments")


def _file_name(history: WorkflowHistory, seen: set[str]) -> str:
    kind, *rest = history.workflow_id.split("/")
    stem = f"{kind}-{rest[-1]}" if kind == "offer" else kind
    name, run = f"{stem}.json", 1
    while name in seen:
        run += 1
        name = f"{stem}-run{run}.json"
    seen.add(name)
    return name


def _keep(fresh: list[WorkflowHistory], settings: Settings, folder: str) -> None:
    window = HISTORIES / folder
    if window.exists() and recorded(window):
        raise AssertionError(f"{window} holds recorded histories already: record a new window, never over them")
    window.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    for history in fresh:
        (window / _file_name(history, seen)).write_text(json.dumps(json.loads(history.to_json()), indent=1))
    # A test-only keyring: recorded payloads are encrypted, and the histories are useless without it.
    shutil.copyfile(settings.keys_file, window / KEYS)


@ON_THE_SESSION_LOOP
async def test_fresh_histories_replay(engine: Engine, env: WorkflowEnvironment, settings: Settings) -> None:
    fresh = await _record(engine, env)
    assert len(fresh) == 7, "the round, JP, VN, CH, KR's two runs and MY"
    for history in fresh:
        await _replayer(env.client.data_converter).replay_workflow(history)
    scheduled = {
        e.activity_task_scheduled_event_attributes.activity_type.name
        for h in fresh
        for e in h.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    # Validation and the landing zone run locally, and so does filing a notice; letters are activities.
    assert scheduled == {RENDER_STORED_LETTER}, scheduled
    folder = os.environ.get("OFFERDESK_RECORD_HISTORIES")
    if folder:
        _keep(fresh, settings, NEWEST_WINDOW if folder == "1" else folder)


@ON_THE_SESSION_LOOP
@pytest.mark.parametrize("window", windows(), ids=lambda p: p.name)
async def test_recorded_histories_still_replay(window: Path) -> None:
    histories = recorded(window)
    assert histories, f"no recorded histories in {window}"
    # Older windows were recorded before payloads were encrypted: read them as a worker does while migrating.
    keyring = Keyring.load(window / KEYS) if (window / KEYS).exists() else Keyring.new()
    converter = data_converter(keyring, accept_plaintext=True)
    for path in histories:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        result = await _replayer(converter).replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{window.name}/{path.name}: {result.replay_failure}"


def patch_markers(path: Path) -> set[str]:
    """The patch ids a recorded history carries markers of (core_patch markers are not encoded by the codec)."""
    ids = set()
    for event in json.loads(path.read_text())["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker is not None and marker["markerName"] == "core_patch":
            data = marker["details"]["patch-data"]["payloads"][0]["data"]
            ids.add(json.loads(base64.b64decode(data))["id"])
    return ids


def test_every_live_patch_has_histories_from_before_and_after_it() -> None:
    """The policy of workflows/PATCHES.md: a live patch is proved by replaying both of its paths."""
    carried = [set().union(*(patch_markers(p) for p in recorded(w))) for w in windows()]
    for patch in LIVE:
        first = next((n for n, ids in enumerate(carried) if patch in ids), None)
        assert first is not None, f"no recorded history carries the marker of {patch}"
        assert first > 0, f"no window of histories from before {patch}"
    assert all(patch not in LIVE for patch in DEPRECATED)
