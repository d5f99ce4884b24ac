"""Operators see it working: a worker and a portal process with metrics, traces and JSON logs on, through a round.

One module-wide run (a real `offerdesk worker` and `offerdesk portal`, an OTLP receiver of the test's own): a staff
member opens a round over the API, a negotiator submits an offer with a canary in it, two reviewers approve it,
the letter is issued; then both /metrics endpoints are scraped, the spans and the log lines read.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import yaml
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.devserver import free_port
from offerdesk.samples import sample_offer
from schemas.portal import Role
from tests.conftest import new_round_id
from tests.otlp import Receiver, Span, otlp_receiver
from tests.portal import PASSWORD, Portal, User, start_portal
from tests.workers import WorkerProcess, eventually, start_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")
ROOT = Path(__file__).resolve().parent.parent
OFFER = "/api/rounds/{r}/offers/{p}"
PARTNER = "JP"


@dataclass
class Observed:
    """What one round left to see."""

    round_id: str
    canary: str
    users: list[User]
    cookie: str
    worker_metrics: str
    portal_metrics: str
    worker_log: Path
    portal_log: Path
    receiver: Receiver
    submit_trace: str
    approve_trace: str


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(text: str, name: str, **labels: str) -> list[float]:
    """The values of the samples called `name` whose labels include `labels`."""
    return [
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def server_span(receiver: Receiver, method: str, route: str) -> Span | None:
    for span in receiver.spans:
        a = span.attributes
        same = a.get("http.route") == route and (a.get("http.request.method") or a.get("http.method")) == method
        if same and span.parent_id == "":
            return span
    return None


async def _approved_round(portal: Portal, receiver: Receiver) -> tuple[str, str, list[User], str, str, str]:
    staff = portal.user(Role.STAFF)
    negotiator = portal.user(Role.NEGOTIATOR, PARTNER)
    ada, grace = portal.user(Role.REVIEWER), portal.user(Role.REVIEWER)
    rid = new_round_id("obs")
    canary = f"CANARY-{uuid.uuid4().hex}"
    deadline = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    async with staff.api() as api:
        opened = await api.post("/api/rounds", json={"round_id": rid, "partners": [PARTNER], "deadline": deadline})
        assert opened.status_code == 201, opened.text
    document = sample_offer(rid, PARTNER, lines=8, seed=7).model_copy(update={"summary": f"our offer {canary}"})
    async with negotiator.api() as api:
        submitted = await api.post(
            OFFER.format(r=rid, p=PARTNER) + "/versions", json=json.loads(document.model_dump_json())
        )
        assert submitted.status_code == 201 and submitted.json()["state"] == "UNDER_REVIEW", submitted.text
    for reviewer in (ada, grace):
        async with reviewer.api() as api:
            approved = await api.post(OFFER.format(r=rid, p=PARTNER) + "/approve", json={"version": 1})
            assert approved.status_code == 200, approved.text
    async with negotiator.api() as api:
        for _ in range(600):
            if (await api.get(OFFER.format(r=rid, p=PARTNER))).json()["state"] == "LETTER_ISSUED":
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the letter was not issued within two minutes")
    # A person signs in (done), and someone tries a wrong password: the sign-in counter moves, no password is logged.
    client, _ = await staff.browser_session()
    cookie = client.headers["Cookie"].partition("=")[2]
    try:
        assert (await client.get(f"/rounds/{rid}")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
    finally:
        await client.aclose()
    async with httpx.AsyncClient(base_url=portal.url) as anyone:
        page = await anyone.get("/signin")
        csrf = page.cookies["offerdesk_signin_csrf"]
        wrong = await anyone.post(
            "/signin",
            data={"name": staff.name, "password": "not " + PASSWORD, "csrf": csrf, "next": "/"},
            headers={"Cookie": f"offerdesk_signin_csrf={csrf}"},
        )
        assert wrong.status_code == 401

    route = "/api/rounds/{round_id}/offers/{partner}"
    submit_span, approve_span = None, None
    for _ in range(150):  # the portal's exporter sends every 200 ms (OTEL_BSP_SCHEDULE_DELAY)
        submit_span = server_span(receiver, "POST", route + "/versions")
        approvals = [
            s for s in receiver.spans if s.parent_id == "" and s.attributes.get("http.route") == route + "/approve"
        ]
        approve_span = approvals[-1] if len(approvals) == 2 else None
        if submit_span and approve_span and any(s.name == "render letter" for s in receiver.spans):
            break
        await asyncio.sleep(0.2)
    assert submit_span is not None and approve_span is not None, sorted({s.name for s in receiver.spans})
    return rid, canary, [staff, negotiator, ada, grace], cookie, submit_span.trace_id, approve_span.trace_id


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def observed(
    env: WorkflowEnvironment, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Observed]:
    folder = tmp_path_factory.mktemp("observed")
    queue = f"observed-{folder.name}"
    worker_port, portal_port = free_port(), free_port()
    with otlp_receiver() as receiver:
        telemetry = {
            "OFFERDESK_LOG_FORMAT": "json",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OFFERDESK_TASK_QUEUE": queue,
        }
        environ = {
            **os.environ,
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "OFFERDESK_HOME": str(settings.home),
            "OFFERDESK_PORTAL_DB": str(settings.portal_db),
            "OFFERDESK_WORKER_METRICS_PORT": str(worker_port),
            "OFFERDESK_RENDER_PROCESSES": "1",
            **telemetry,
        }
        worker: WorkerProcess = await start_worker(env.client, environ, folder / "worker", gated=False)
        portal_log = folder / "portal.log"
        try:
            async for portal in start_portal(
                env, settings, log=portal_log, OFFERDESK_PORTAL_METRICS_PORT=str(portal_port), **telemetry
            ):
                rid, canary, users, cookie, submit_trace, approve_trace = await _approved_round(portal, receiver)
                async with httpx.AsyncClient(timeout=30) as scraper:
                    worker_metrics = (await scraper.get(f"http://127.0.0.1:{worker_port}/metrics")).text
                    portal_metrics = (await scraper.get(f"http://127.0.0.1:{portal_port}/metrics")).text
                public = httpx.get(f"{portal.url}/metrics")
                assert public.status_code in (404, 303), "the portal's public port serves no metrics"
        finally:
            await worker.stop()
        yield Observed(
            rid,
            canary,
            users,
            cookie,
            worker_metrics,
            portal_metrics,
            worker.log,
            portal_log,
            receiver,
            submit_trace,
            approve_trace,
        )


# ---- metrics ---------------------------------------------------------------------------------------


async def test_the_workers_endpoint_counts_the_round_and_serves_the_sdks_metrics(observed: Observed) -> None:
    text = observed.worker_metrics
    assert samples(text, "offerdesk_letters_total", outcome="issued") == [1.0]
    assert samples(text, "offerdesk_letter_render_seconds_count") == [1.0]
    assert samples(text, "offerdesk_letter_render_seconds_sum")[0] > 0
    assert samples(text, "offerdesk_validation_seconds_count")[0] >= 1
    assert samples(text, "offerdesk_store_operation_seconds_count", operation="put", kind="letters") == [1.0]
    assert samples(text, "offerdesk_store_operation_seconds_count", operation="get", kind="offers")[0] >= 1
    assert samples(text, "offerdesk_mails_total", outcome="sent") == [0.0]  # no mail server: nothing is mailed
    names = set(families(text))
    for sdk in (
        "temporal_workflow_task_schedule_to_start_latency_seconds",
        "temporal_activity_schedule_to_start_latency_seconds",
        "temporal_worker_task_slots_used",
        "temporal_sticky_cache_size",
    ):
        assert sdk in names, f"{sdk} missing; the SDK's are {sorted(n for n in names if n.startswith('temporal'))}"


async def test_the_portals_endpoint_counts_requests_by_route_sign_ins_and_calls(observed: Observed) -> None:
    text = observed.portal_metrics
    route = "/api/rounds/{round_id}/offers/{partner}"
    assert samples(
        text, "offerdesk_http_request_seconds_count", route=route + "/approve", method="POST", status="200"
    ) == [2.0]
    assert samples(text, "offerdesk_http_request_seconds_count", route=route + "/versions", status="201") == [1.0]
    assert samples(text, "offerdesk_http_request_seconds_count", route="/rounds/{round_id}", status="200") == [1.0]
    assert samples(text, "offerdesk_signins_total", outcome="done") == [1.0]
    assert samples(text, "offerdesk_signins_total", outcome="bad_password") == [1.0]
    assert samples(text, "offerdesk_signins_total", outcome="throttled") == [0.0]
    assert samples(text, "offerdesk_readiness", check="database") == [1.0]
    assert samples(text, "offerdesk_database_seconds_count", store="tokens", call="principal")[0] >= 5
    assert samples(text, "offerdesk_database_seconds_count", store="audit", call="record")[0] >= 4
    assert sum(samples(text, "temporal_request_latency_seconds_count")) > 0  # the portal's calls to Temporal
    assert not [n for n in families(text) if n.startswith("temporal_workflow")], "the worker's SDK metrics stay there"


async def test_no_label_carries_a_round_partner_user_path_or_secret(observed: Observed) -> None:
    secrets = [observed.round_id, observed.canary, observed.cookie, PASSWORD]
    secrets += [u.name for u in observed.users] + [u.token for u in observed.users]
    for endpoint, text in (("worker", observed.worker_metrics), ("portal", observed.portal_metrics)):
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                for key, value in sample.labels.items():
                    assert key not in ("round", "round_id", "partner", "user", "path"), (endpoint, sample)
                    assert value != PARTNER and not any(s in value for s in secrets), (endpoint, sample)
                    assert "/rounds/obs-" not in value, (endpoint, sample)


async def test_the_alert_rules_refer_only_to_metrics_that_exist(observed: Observed) -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus-alerts.yml").read_text())
    exposed: set[str] = set()
    for text in (observed.worker_metrics, observed.portal_metrics):
        for family in text_string_to_metric_families(text):  # a family with no series yet still names its samples
            exposed |= {s.name for s in family.samples} | {family.name + x for x in ("", "_total", "_bucket")}
    named = set()
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {"LettersFailing", "RenderSlow", "WorkflowTasksWaiting", "SignInsThrottled"} <= {a["alert"] for a in alerts}
    for alert in alerts:
        assert alert["annotations"]["summary"] and alert["labels"]["severity"] in ("page", "ticket"), alert
        for name in re.findall(r"\b((?:offerdesk|temporal)_[a-z0-9_]+)", alert["expr"]):
            named.add(name)
            assert name in exposed, f"{alert['alert']} refers to {name}, which no endpoint serves"
    assert any(n.startswith("temporal_") for n in named) and any(n.startswith("offerdesk_") for n in named)


# ---- traces ----------------------------------------------------------------------------------------


def _parents(spans: list[Span], span: Span) -> list[str]:
    by_id = {s.span_id: s for s in spans}
    names = []
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        names.append(span.name)
    return names


async def test_one_trace_runs_from_the_request_through_the_update_into_the_activities(observed: Observed) -> None:
    receiver = observed.receiver
    submit = receiver.trace(observed.submit_trace)
    names = {s.name for s in submit}
    assert {"StartWorkflowUpdate:submit", "HandleUpdate:submit", "RunActivity:assess_stored_offer"} <= names, names
    validation = next(s for s in submit if s.name == "RunActivity:assess_stored_offer")
    assert validation.service == "offerdesk-worker"
    # A local activity has no StartActivity span (it runs at once, in the worker): it is the update's child.
    assert _parents(submit, validation)[0] == "StartWorkflowUpdate:submit", _parents(submit, validation)
    assert "StartActivity:assess_stored_offer" not in names, names
    # Queries (the portal reads an open offer's trail by query) and update validators make no span on the
    # worker's side: the portal's QueryWorkflow and StartWorkflowUpdate spans cover them.
    assert any(s.name.startswith("QueryWorkflow:") for s in receiver.spans), "the portal sent no query"
    unspanned = {s.name for s in receiver.spans if s.name.startswith(("HandleQuery:", "ValidateUpdate:"))}
    assert not unspanned, unspanned

    await eventually(
        lambda: any(s.name == "render letter" for s in receiver.trace(observed.approve_trace)), 30, "the render span"
    )
    approve = receiver.trace(observed.approve_trace)
    render = next(s for s in approve if s.name == "render letter")
    chain = _parents(approve, render)
    assert chain[:2] == ["RunActivity:render_stored_letter", "StartActivity:render_stored_letter"], chain
    assert "StartWorkflowUpdate:approve" in chain and chain[-1].startswith("POST /api/rounds"), chain
    assert render.attributes["offerdesk.pages"] >= 1
    for span in (render, validation, next(s for s in approve if s.name == "HandleUpdate:approve")):
        assert span.attributes["offerdesk.round"] == observed.round_id, span
        assert span.attributes["offerdesk.partner"] == PARTNER, span
    server = next(s for s in approve if s.parent_id == "")
    assert server.attributes["offerdesk.round"] == observed.round_id and server.service == "offerdesk-portal"
    everything = b"".join(receiver.requests)
    assert observed.canary.encode() not in everything, "a span carries document content"
    assert not [t for u in observed.users if (t := u.token).encode() in everything], "a span carries a token"


# ---- logs ------------------------------------------------------------------------------------------


def _lines(path: Path) -> list[dict[str, Any]]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"{path.name}: not a JSON line: {line!r}") from None
    return parsed


async def test_every_log_line_is_json_and_names_the_offer_it_is_about(observed: Observed) -> None:
    worker, portal = _lines(observed.worker_log), _lines(observed.portal_log)
    for line in worker + portal:
        assert {"time", "level", "logger", "message"} <= set(line), line
    issued = [x for x in worker if x["message"].startswith("letter issued")]
    assert len(issued) == 1, worker
    assert issued[0]["round"] == observed.round_id and issued[0]["partner"] == PARTNER
    assert issued[0]["workflow_id"] == f"offer/{observed.round_id}/{PARTNER}" and len(issued[0]["trace_id"]) == 32
    assert issued[0]["trace_id"] == observed.approve_trace

    access = [x for x in portal if x["logger"] == "offerdesk.access"]
    approvals = [x for x in access if x["route"].endswith("/approve")]
    assert len(approvals) == 2 and {x["user"] for x in approvals} == {observed.users[2].name, observed.users[3].name}
    assert all(x["status"] == 200 and x["method"] == "POST" and x["duration_ms"] > 0 for x in approvals)
    assert approvals[-1]["round"] == observed.round_id and approvals[-1]["partner"] == PARTNER
    assert approvals[-1]["trace_id"] == observed.approve_trace
    assert any(x["route"] == "/signin" and x["status"] == 401 and x["user"] is None for x in access)


async def test_no_log_line_carries_a_token_cookie_password_or_document_text(observed: Observed) -> None:
    text = observed.worker_log.read_text() + observed.portal_log.read_text()
    assert observed.canary not in text and "our offer" not in text
    assert PASSWORD not in text and observed.cookie not in text
    for user in observed.users:
        assert user.token not in text and user.token.split("_", 2)[2] not in text
