"""A smoke run of the benchmark (tiny sizes), so that `make bench` keeps working; no timing is asserted."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from benchmarks.round import GOALS, PARTS, abba, merge
from offerdesk.devserver import free_port


@pytest.mark.asyncio(loop_scope="session")
async def test_the_benchmark_runs_end_to_end(tmp_path: Path, project_root: Path) -> None:
    output = tmp_path / "results.json"
    sizes = {
        "--partners": 3,
        "--review-s": 0.1,
        "--open-offers": 12,
        "--letters": 1,
        "--lines-3": 10,
        "--lines-15": 40,
        "--full-schedule-lines": 300,  # over the letter's listed lines: summed up per chapter, as 15,000 are
        "--dashboard-partners": 8,
        "--dashboard-submitted": 3,
        "--dashboard-repeats": 1,
        "--portal-clients": 3,
        "--portal-s": 2,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.round",
        *(str(x) for option, value in sizes.items() for x in (option, value)),
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
    assert set(results["parts"]) == set(PARTS)

    r = results["round"]
    assert r["offers"] == 3 and r["offers_per_s"] > 0 and r["batches"] == 2
    assert r["approve_latency"]["n"] == 6 and r["submit_latency"]["n"] == 3
    by_phase = [r[f"approve_latency_while_{p}"].get("n", 0) for p in ("submitting", "rendering")]
    assert sum(by_phase) == 6
    assert r["floor_update_latency"]["n"] == 6 and r["approve_p99_over_floor_p99"] > 0
    assert r["worker_main_cpu_ms_per_offer"] > 0 and r["floor_worker_cpu_s"] >= 0
    assert [b["offers"] for b in r["by_batch"]] == [2, 1]
    assert results["without_temporal"]["offers"] == 3 and results["durability_ratio"] > 0
    assert [b["offers"] for b in results["without_temporal"]["by_batch"]] == [2, 1]
    assert results["durability"]["order"] == "T1 D1 D2 T2"
    assert r["observability_order"] == "T1 D1 O1 O2 D2 T2" and r["observability"]["offers"] == 3
    assert [b["offers"] for b in r["observability"]["by_batch"]] == [2, 1]
    assert r["observability_overhead_cpu"] > 0 and r["observability_overhead_approve_p99"] > 0
    assert r["observability"]["scrapes"] >= 1 and r["observability"]["span_exports"] >= 1
    assert r["observability"]["parts_on"] == "metrics,tracing,logs"

    rendering = results["rendering"]
    assert rendering["3_pages"]["pages"] >= 1 and rendering["floor_one_line_s"] > 0
    assert rendering["3_pages"]["times_plain_text"] > 0 and rendering["15_pages"]["plain_text_same_pages_s"] > 0
    assert 0 < rendering["3_pages"]["signing_overhead"] < 5 and rendering["3_pages"]["signing_s"] > 0

    full = results["full_schedule"]
    assert full["tariff_lines"] == 300 and full["submit_state"] == "UNDER_REVIEW"
    assert full["submit_s"] > 0 and full["letter_s"] > 0 and full["letter_pages"] >= 1

    board = results["dashboard"]
    assert board["partners"] == 8 and board["submitted"] == 3 and board["offers_shown"] == 8
    assert board["round_status_cli_s"] > 0 and board["staff_page_s"] > 0 and board["staff_api_s"] > 0
    assert board["dashboard_600_s"] == max(board["round_status_cli_s"], board["staff_dashboard_s"])

    portal = results["portal"]
    assert portal["clients"] == 3 and portal["requests"] > 0, portal
    assert portal["errors"] == 0, portal["error_kinds"]
    assert portal["p99_ms_20_concurrent"] > 0 and set(portal["by_kind"]) == {"dashboard", "offer", "comment"}

    assert results["scale"]["listed"] == 12 and results["scale"]["worker_rss_mib"] > 0
    assert set(results["goals"]) == {key for key, _, _ in GOALS}
    printed = out.decode()
    assert "durability ratio" in printed and "floor update" in printed and ("met" in printed or "missed" in printed)


def test_the_pipelines_alternate_so_that_a_linear_drift_cancels() -> None:
    assert abba(2) == [(0, "temporal"), (0, "direct"), (1, "direct"), (1, "temporal")]
    for batches in (2, 4, 6):
        order = abba(batches)
        assert sum(i for i, (_, w) in enumerate(order) if w == "temporal") == sum(
            i for i, (_, w) in enumerate(order) if w == "direct"
        )


def test_a_part_run_again_keeps_the_other_parts_last_figures() -> None:
    earlier = merge(
        {"rendering": {"3_pages": {"times_plain_text": 3.0}}, "scale": {"worker_rss_mib": 400.0}},
        ["rendering", "scale"],
        "2026-01-01T00:00:00+00:00",
        {},
    )
    again = merge({"scale": {"worker_rss_mib": 500.0}}, ["scale"], "2026-01-02T00:00:00+00:00", earlier)
    assert again["scale"] == {"worker_rss_mib": 500.0}
    assert again["rendering"] == earlier["rendering"]
    assert again["parts"]["rendering"]["carried_from"] == "2026-01-01T00:00:00+00:00"
    assert "carried_from" not in again["parts"]["scale"]
    assert again["goals"]["rendering.3_pages.times_plain_text"]["met"] is False
    assert again["goals"]["scale.worker_rss_mib"] == {"figure": 500.0, "goal": "< 1024", "met": True}
