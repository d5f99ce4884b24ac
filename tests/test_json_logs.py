"""OFFERDESK_LOG_FORMAT=json for every process: `offerdesk up` (with its metrics on), a CLI command, the format."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.devserver import free_port
from offerdesk.observe.logs import FIELDS, JsonFormatter, subject_of
from tests.commands import cli

session = pytest.mark.asyncio(loop_scope="session")
OFFERDESK = str(Path(sys.executable).parent / "offerdesk")


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.strip():
            try:
                lines.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"not a JSON line: {line!r}\n{text[-3000:]}") from None
    return lines


@session
async def test_up_serves_both_metrics_endpoints_and_writes_only_json_lines(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    worker_port, portal_port = free_port(), free_port()
    log = tmp_path / "up.log"
    environ = {
        **os.environ,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "OFFERDESK_HOME": str(tmp_path / "home"),
        "OFFERDESK_PORTAL_DB": str(tmp_path / "portal.db"),
        "OFFERDESK_TASK_QUEUE": f"up-{tmp_path.name}",
        "OFFERDESK_PORTAL_PORT": str(free_port()),
        "OFFERDESK_WORKER_METRICS_PORT": str(worker_port),
        "OFFERDESK_PORTAL_METRICS_PORT": str(portal_port),
        "OFFERDESK_RENDER_PROCESSES": "1",
        "OFFERDESK_WORKER_DRAIN_S": "2",
        "OFFERDESK_LOG_FORMAT": "json",
    }
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(OFFERDESK, "up", env=environ, stdout=out, stderr=out)
    try:
        for _ in range(300):
            if "Metrics (Prometheus)" in log.read_text() or process.returncode is not None:
                break
            await asyncio.sleep(0.1)
        assert process.returncode is None, log.read_text()
        async with httpx.AsyncClient(timeout=10) as scraper:
            for _ in range(300):  # the SDK's worker metrics appear once the worker has started
                worker = await scraper.get(f"http://127.0.0.1:{worker_port}/metrics")
                if "temporal_worker_task_slots_available" in worker.text:
                    break
                await asyncio.sleep(0.1)
            portal = await scraper.get(f"http://127.0.0.1:{portal_port}/metrics")
        assert worker.status_code == 200 and "offerdesk_letter_render_seconds" in worker.text
        assert "temporal_worker_task_slots_available" in worker.text, worker.text  # the SDK's, from the one runtime
        assert portal.status_code == 200 and "offerdesk_http_request_seconds" in portal.text
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 60)
    lines = _json_lines(log.read_text())
    assert code == 0, lines
    said = [x["message"] for x in lines]
    metrics = next(m for m in said if m.startswith("Metrics (Prometheus)"))
    assert f"worker http://127.0.0.1:{worker_port}/metrics" in metrics
    assert f"portal http://127.0.0.1:{portal_port}/metrics" in metrics
    assert any(m.startswith("Portal: http://") for m in said) and any(m.startswith("Stopping:") for m in said)
    assert all(x["logger"] and x["level"] and x["time"].endswith("Z") for x in lines)


@session
async def test_a_cli_command_says_what_went_wrong_as_a_json_line(env: WorkflowEnvironment, settings: Settings) -> None:
    code, out, err = await cli(env, settings, "round", "status", "no-such-round", OFFERDESK_LOG_FORMAT="json")
    assert code == 1 and out == ""
    [line] = _json_lines(err)
    assert line["level"] == "error" and "round no-such-round does not exist" in line["message"]
    assert line["exit_code"] == 1


@session
async def test_a_format_that_is_neither_text_nor_json_is_refused(env: WorkflowEnvironment, settings: Settings) -> None:
    code, _, err = await cli(env, settings, "round", "list", OFFERDESK_LOG_FORMAT="xml")
    assert code == 2 and "OFFERDESK_LOG_FORMAT is text or json; not 'xml'" in err


def test_a_line_names_the_offer_its_workflow_is_about() -> None:
    record = logging.LogRecord("temporalio.workflow", logging.WARNING, __file__, 1, "slow %s", ("update",), None)
    record.temporal_workflow = {"workflow_id": "offer/r-1/offer/JP", "run_id": "x"}
    setattr(record, FIELDS, {"status": 200, "message": "never overrides the message"})
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "slow update" and line["level"] == "warning" and line["logger"] == "temporalio.workflow"
    assert (line["round"], line["partner"], line["workflow_id"]) == ("r-1/offer", "JP", "offer/r-1/offer/JP")
    assert line["status"] == 200 and "trace_id" not in line
    assert subject_of("round/r-2") == {"round": "r-2"} and subject_of("floor/x") == {}


def test_metrics_ports_and_log_settings_are_checked() -> None:
    settings = Settings.from_env({"OFFERDESK_WORKER_METRICS_PORT": "9464", "OFFERDESK_LOG_FORMAT": "JSON"})
    assert (settings.worker_metrics_port, settings.portal_metrics_port, settings.log_format) == (9464, None, "json")
    assert settings.server_options()["log_config"] is None
    with pytest.raises(ValueError, match="OFFERDESK_PORTAL_METRICS_PORT must be between 1 and 65535"):
        Settings.from_env({"OFFERDESK_PORTAL_METRICS_PORT": "70000"})
    with pytest.raises(ValueError, match="OFFERDESK_WORKER_METRICS_PORT is a port number"):
        Settings.from_env({"OFFERDESK_WORKER_METRICS_PORT": "ninety"})
