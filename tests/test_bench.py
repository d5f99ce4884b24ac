"""A smoke run of the benchmark (three partners), so that `make bench` keeps working; no timing is asserted."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from tests.portal import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_benchmark_runs_end_to_end(tmp_path: Path, project_root: Path) -> None:
    output = tmp_path / "results.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.round",
        "--partners",
        "3",
        "--open-offers",
        "12",
        "--letters",
        "1",
        "--lines-3",
        "30",
        "--lines-15",
        "60",
        "--port",
        str(free_port()),
        "--output",
        str(output),
        cwd=project_root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"COLUMNS": "200", "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    assert process.returncode == 0, out.decode()[-4000:]
    results = json.loads(output.read_text())
    assert results["round"]["offers"] == 3 and results["round"]["offers_per_s"] > 0
    assert results["round"]["approve_latency"]["n"] == 6 and results["round"]["submit_latency"]["n"] == 3
    by_phase = [results["round"][f"approve_latency_while_{p}"].get("n", 0) for p in ("submitting", "rendering")]
    assert sum(by_phase) == 6
    assert results["without_temporal"]["offers"] == 3 and results["durability_ratio"] > 0
    rendering = results["rendering"]
    assert rendering["3_pages"]["pages"] >= 1 and rendering["floor_one_line_s"] > 0
    assert rendering["15_pages"]["plain_text_same_pages_s"] > 0
    assert results["scale"]["listed"] == 12 and results["scale"]["worker_rss_mib"] > 0
    assert "durability ratio" in out.decode()
