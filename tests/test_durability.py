"""No stuck offers, the truth about closed workflows, no worker and no server: on a real dev server.

Each test runs its offers on a task queue of its own with a worker it controls, so it can break the store,
stop the worker or terminate a workflow without touching the session's worker.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities import offer_activities
from activities.names import RENDER_STORED_LETTER
from activities.store import Kind
from offerdesk.config import Settings
from offerdesk.engine import Engine, EngineUnavailable
from offerdesk.samples import sample_offer
from schemas.answer import Accept
from schemas.offer_state import OfferState
from schemas.review import Approve, Comment
from schemas.round import RoundSpec, RoundStatus
from tests.conftest import own_installation, round_spec, submitted_and_approved, worker_running
from workflows.names import offer_workflow_id, round_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")
OFFERDESK = str(Path(sys.executable).parent / "offerdesk")
WAIT = timedelta(seconds=60)
ADA, GRACE = Approve(reviewer="Ada", version=1), Approve(reviewer="Grace", version=1)


async def cli(env: WorkflowEnvironment, home: Path, *args: str, **extra: str) -> tuple[int, str, str, float]:
    """Run the real command; its exit code, output, errors and how long it took."""
    environ = {
        **os.environ,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "OFFERDESK_HOME": str(home),
        "COLUMNS": "200",
        **extra,
    }
    start = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        OFFERDESK, *args, env=environ, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode(), time.monotonic() - start


# ---- 6. no stuck offers ------------------------------------------------------------------------


async def test_a_rule_that_raises_gives_a_finding_with_a_reference_and_never_hangs(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = round_spec(["AR"])
    await engine.open_round(spec)
    rid = spec.round_id

    def broken_rule(*args: object) -> None:
        raise ZeroDivisionError("a rule divided by zero")

    monkeypatch.setattr(offer_activities, "validate_offer", broken_rule)
    start = time.monotonic()
    receipt = await engine.submit(sample_offer(rid, "AR"), by="negotiator")
    assert time.monotonic() - start < 15
    assert receipt.state is OfferState.DEFICIENT and receipt.report is not None
    [finding] = receipt.report.errors
    assert f"reference offer/{rid}/AR#v1" in finding.message and "ZeroDivisionError" in finding.message

    # Once the rule is fixed, the same document goes through: nothing was lost, and it is not a "duplicate".
    monkeypatch.undo()
    again = await engine.submit(sample_offer(rid, "AR"), amend=True, by="negotiator")
    assert (again.version, again.duplicate, again.state) == (2, False, OfferState.UNDER_REVIEW)


async def test_a_superscript_digit_in_an_hs_code_is_a_finding_not_a_wedged_offer(engine: Engine) -> None:
    spec = round_spec(["BD"])
    await engine.open_round(spec)
    doc = sample_offer(spec.round_id, "BD")
    line = doc.tariff_commitments[0].model_copy(update={"hs_code": "0²01.30"})
    doc = doc.model_copy(update={"tariff_commitments": [line, *doc.tariff_commitments[1:]]})
    receipt = await asyncio.wait_for(engine.submit(doc, by="negotiator"), 15)
    assert receipt.state is OfferState.DEFICIENT and receipt.report is not None
    assert any(f.path == "tariff_commitments[0].hs_code" for f in receipt.report.errors)


async def test_a_letter_that_cannot_be_stored_ends_in_letter_failed_and_staff_retry_it(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec]
) -> None:
    queue = f"letter-failure-{tmp_path.name}"
    local, engine = own_installation(env, settings, tmp_path, queue)
    letters = tmp_path / "store" / Kind.LETTER.value
    letters.parent.mkdir(parents=True, exist_ok=True)
    letters.write_text("not a folder")  # the store cannot write letters, even as root
    spec = round_spec(["BW"]).model_copy(update={"letter_attempts": 2, "letter_first_retry": timedelta(seconds=0.2)})
    closing.append(spec)
    rid = spec.round_id
    async with worker_running(env.client, local, queue):
        await engine.open_round(spec)
        await submitted_and_approved(engine, rid, "BW")
        failed = await engine.wait_for(rid, "BW", {OfferState.LETTER_FAILED, OfferState.LETTER_ISSUED}, WAIT)
        assert failed.state is OfferState.LETTER_FAILED and failed.letter is None
        assert failed.letter_failure is not None and str(letters) in failed.letter_failure

        code, out, _, _ = await cli(env, tmp_path, "round", "status", rid)
        assert code == 0 and "LETTER_FAILED" in out and "letter failed" in out
        code, out, _, _ = await cli(env, tmp_path, "offer", "show", rid, "BW")
        out = " ".join(out.split())
        assert code == 0 and "the letter failed" in out and "staff retry-letter" in out
        code, _, err, _ = await cli(env, tmp_path, "letter", "download", rid, "BW")
        assert code == 1 and "LETTER_FAILED" in err and "retry-letter" in err

        letters.unlink()  # the cause is fixed
        code, out, err, _ = await cli(env, tmp_path, "staff", "retry-letter", rid, "BW", "--reason", "disk fixed")
        assert code == 0, err
        done = await engine.wait_for(rid, "BW", {OfferState.LETTER_ISSUED}, WAIT)
        # Read while the worker runs: the offer may still be filing its trail to the store, and without a
        # worker to answer for the rest, the trail shows only what was filed.
        actions = [e.action for e in (await engine.offer_status(rid, "BW")).events]
    assert done.letter is not None and (await engine.letter_bytes(done.letter)).startswith(b"%PDF")
    assert actions.count("letter failed") == 1 and "retried the letter" in actions


async def test_the_letter_activity_heartbeats_so_a_dead_worker_frees_it_in_seconds(
    engine: Engine, env: WorkflowEnvironment
) -> None:
    spec = round_spec(["NO"])
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, "NO"), by="negotiator")
    await engine.approve(rid, "NO", ADA)
    await engine.approve(rid, "NO", GRACE)
    await engine.wait_for(rid, "NO", {OfferState.LETTER_ISSUED}, WAIT)
    history = await env.client.get_workflow_handle(offer_workflow_id(rid, "NO")).fetch_history()
    [scheduled] = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == RENDER_STORED_LETTER
    ]
    assert scheduled.heartbeat_timeout.ToTimedelta() == timedelta(seconds=20)
    assert scheduled.retry_policy.maximum_attempts == spec.letter_attempts


# ---- 7. the truth about closed workflows -------------------------------------------------------


async def test_a_terminated_offer_shows_as_terminated_with_why_and_the_round_carries_on(
    engine: Engine, env: WorkflowEnvironment, settings: Settings
) -> None:
    spec = round_spec(["CN", "FJ"], approvals=1)
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, "CN"), by="negotiator")
    await engine.submit(sample_offer(rid, "FJ"), by="negotiator")
    await env.client.get_workflow_handle(offer_workflow_id(rid, "CN")).terminate(reason="operator cleaned up")

    status = await engine.offer_status(rid, "CN")
    assert status.state is OfferState.TERMINATED and status.closed is not None
    assert status.closed.status == "TERMINATED" and "operator cleaned up" in status.closed.reason
    assert status.closed.at is not None and len(status.versions) == 1  # the rest of the view is still there

    listed: dict[str, str] = {}
    for _ in range(50):
        listed = {x.partner: x.state for x in await engine.list_offers(round_id=rid)}
        if listed.get("CN") == "TERMINATED":
            break
        await asyncio.sleep(0.2)
    assert listed == {"CN": "TERMINATED", "FJ": "UNDER_REVIEW"}
    assert [x.partner for x in await engine.list_offers(round_id=rid, state=OfferState.TERMINATED)] == ["CN"]
    code, out, _, _ = await cli(env, settings.home, "round", "status", rid)
    assert code == 0 and "TERMINATED" in out
    code, out, _, _ = await cli(env, settings.home, "offer", "show", rid, "CN")
    assert code == 0 and "TERMINATED" in out and "operator cleaned up" in out

    # The round carries on: the other offer reaches its letter, which is accepted, and the round records both.
    await engine.approve(rid, "FJ", ADA)
    await engine.wait_for(rid, "FJ", {OfferState.LETTER_ISSUED}, WAIT)
    await engine.accept(rid, "FJ", Accept(by="negotiator", letter=1))
    round_handle = env.client.get_workflow_handle(round_workflow_id(rid), result_type=RoundStatus)
    outcome = await asyncio.wait_for(round_handle.result(), 30)
    assert {o.partner: o.state for o in outcome.outcomes} == {
        "CN": OfferState.TERMINATED,
        "FJ": OfferState.ACCEPTED,
    }


# ---- 8. no worker, no server -------------------------------------------------------------------


async def test_with_no_worker_reads_still_work_and_changes_say_so_quickly(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec]
) -> None:
    queue = f"no-worker-{tmp_path.name}"
    local, engine = own_installation(env, settings, tmp_path, queue, update_timeout=3)
    spec = round_spec(["IL", "JO"], approvals=1)
    closing.append(spec)
    rid = spec.round_id
    async with worker_running(env.client, local, queue):
        await engine.open_round(spec)
        await engine.submit(sample_offer(rid, "IL"), by="negotiator")
        await engine.comment(rid, "IL", Comment(reviewer="Ada", text="reads well"))
        await engine.approve(rid, "IL", ADA)
        await engine.wait_for(rid, "IL", {OfferState.LETTER_ISSUED}, WAIT)
        await engine.accept(rid, "IL", Accept(by="negotiator", letter=1))  # the offer completes
        await engine.submit(sample_offer(rid, "JO"), by="negotiator")
        await engine.comment(rid, "JO", Comment(reviewer="Ada", text="still reading"))

    # No worker runs now. Reading an offer, a round and an issued letter needs none.
    code, out, err, took = await cli(env, tmp_path, "offer", "show", rid, "IL")
    assert code == 0 and "ACCEPTED" in out and took < 15, err
    code, out, err, took = await cli(env, tmp_path, "offer", "show", rid, "JO", "--json")
    assert code == 0 and '"UNDER_REVIEW"' in out and took < 10, err
    assert "no worker answered" in out  # the view says what it could not show
    code, out, err, took = await cli(env, tmp_path, "round", "status", rid)
    assert code == 0 and "ACCEPTED" in out and "UNDER_REVIEW" in out and took < 10, err
    target = tmp_path / "il.pdf"
    code, _, err, took = await cli(env, tmp_path, "letter", "download", rid, "IL", "-o", str(target))
    assert code == 0 and target.read_bytes().startswith(b"%PDF") and took < 10, err
    status = await engine.offer_status(rid, "IL")
    assert "commented" in [e.action for e in status.events]  # the completed offer filed its trail to the store

    # A change answers within the update timeout, exit 3, and says no worker is running.
    code, out, err, took = await cli(
        env,
        tmp_path,
        "review",
        "comment",
        rid,
        "JO",
        "--text",
        "hello?",
        OFFERDESK_UPDATE_TIMEOUT="3",
        OFFERDESK_OPERATOR="Grace",
    )
    assert code == 3 and "no worker" in err and took < 15 and out == "", (code, err, took)  # 3 s, and a busy CI
    assert "Traceback" not in err and "RPCError" not in err


async def test_an_unreachable_or_stopped_server_is_one_sentence_and_exit_3(tmp_path: Path) -> None:
    from offerdesk.devserver import DevServer, free_port

    port = free_port()
    server = DevServer(tmp_path, port, free_port())
    server.start()
    address = {"TEMPORAL_ADDRESS": f"127.0.0.1:{port}"}
    environ = {**os.environ, "OFFERDESK_HOME": str(tmp_path), **address}
    try:
        process = await asyncio.create_subprocess_exec(
            *(OFFERDESK, "round", "list", "--json"),
            env=environ,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0 and out.strip() == b"[]", err.decode()
    finally:
        server.stop()
    process = await asyncio.create_subprocess_exec(
        OFFERDESK,
        "round",
        "list",
        "--json",
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 3 and out == b""
    assert err.decode().count("\n") <= 2 and f"cannot reach Temporal at 127.0.0.1:{port}" in err.decode()


# ---- 9. inputs ---------------------------------------------------------------------------------


async def test_the_cli_and_the_engine_refuse_out_of_bounds_staff_rates(
    engine: Engine, env: WorkflowEnvironment, settings: Settings
) -> None:
    spec = round_spec(["KH"], review_window=timedelta(seconds=2))
    await engine.open_round(spec)
    rid = spec.round_id
    await engine.submit(sample_offer(rid, "KH"), by="negotiator")
    await engine.wait_for(rid, "KH", {OfferState.ESCALATED}, WAIT)
    for rate in ("-5", "5000", "1e308"):
        code, _, err, _ = await cli(
            env, settings.home, "staff", "decide", rid, "KH", "--decision", "approve", "--version", "1",
            "--reason", "carve-out", "--rate", rate, OFFERDESK_OPERATOR="Sam",
        )  # fmt: skip
        assert code == 2 and "rate_pct" in err, (rate, err)
    code, _, err, _ = await cli(
        env, settings.home, "staff", "decide", rid, "KH", "--decision", "approve", "--reason", " ", "--version", "1",
        OFFERDESK_OPERATOR="Sam",
    )  # fmt: skip
    assert code == 2 and "give a reason" in err
    card, _ = await engine.offer_card(rid, "KH")
    assert card.state is OfferState.ESCALATED and card.terms is None  # nothing was decided


async def test_an_update_refused_without_a_worker_is_not_applied_when_one_returns(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, closing: list[RoundSpec]
) -> None:
    queue = f"stale-{tmp_path.name}"
    local, engine = own_installation(env, settings, tmp_path, queue, update_timeout=2)
    spec = round_spec(["PH"])
    closing.append(spec)
    rid = spec.round_id
    async with worker_running(env.client, local, queue):
        await engine.open_round(spec)
        await engine.submit(sample_offer(rid, "PH"), by="negotiator")
    with pytest.raises(EngineUnavailable, match=r"not applied|nothing was changed"):
        await engine.comment(rid, "PH", Comment(reviewer="Ada", text="sent while no worker ran"))
    async with worker_running(env.client, local, queue):
        await asyncio.sleep(1.5)
        status = await engine.offer_status(rid, "PH")
    assert "sent while no worker ran" not in [e.detail for e in status.events]


async def test_more_requests_than_temporal_takes_at_once_are_told_to_send_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temporal holds at most 10 updates of one workflow in flight and refuses more with RESOURCE_EXHAUSTED (seen
    when many comments met an offer continuing as new): the caller is told to send again, never a raw RPC error."""

    class Crowded:
        async def execute_update(self, *_: object) -> None:
            raise RPCError(
                "limit on number of concurrent in-flight updates has been reached (10)",
                RPCStatusCode.RESOURCE_EXHAUSTED,
                b"",
            )

    monkeypatch.setattr(engine, "_offer", lambda *_: Crowded())
    with pytest.raises(EngineUnavailable, match=r"as many requests as Temporal allows at once.*send it again"):
        await engine.comment("r", "MU", Comment(reviewer="Ada", text="a note"))
