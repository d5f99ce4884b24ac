"""A smoke run of the benchmark (tiny sizes), so that `make bench` keeps working; no timing is asserted."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from benchmarks.portal_databases import order, worst_ratio
from benchmarks.postgres import NoPostgres
from benchmarks.results import goals, report
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
        "--portal-visits": 2,
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
        env={
            "COLUMNS": "200",
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
            "PYTHONPATH": str(project_root),
        },
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
    assert r["floor_update_latency_at_submit"]["n"] == 3 and r["submit_p99_over_floor_p99"] > 0
    # Counted from the offers' histories: each has at least its start, a submission, two approvals and a letter.
    assert r["workflow_tasks_per_offer"] >= 4 and r["events_per_offer"] > r["workflow_tasks_per_offer"] * 3
    assert r["events_per_offer_to_the_deal"] > r["events_per_offer"] and r["round_events_per_offer"] > 0
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
    counted = rendering["3_pages"]
    if shutil.which("valgrind"):  # counted in instructions (callgrind), inside the two renders only
        assert counted["instructions_times_plain_text"] > 0 and counted["instructions_pages"] == counted["pages"]
        assert counted["plain_text_instructions"] > 0 and counted["letter_instructions"] > 0
    else:
        assert "valgrind" in counted["instructions_skipped"]

    full = results["full_schedule"]
    assert full["tariff_lines"] == 300 and full["submit_state"] == "UNDER_REVIEW"
    assert full["submit_s"] > 0 and full["letter_s"] > 0 and full["letter_pages"] >= 1

    board = results["dashboard"]
    assert board["partners"] == 8 and board["submitted"] == 3 and board["offers_shown"] == 8
    assert board["round_status_cli_s"] > 0 and board["staff_page_s"] > 0 and board["staff_api_s"] > 0
    assert board["dashboard_600_s"] == max(board["round_status_cli_s"], board["staff_dashboard_s"])
    assert board["cli_start_s"] > 0 and len(board["cli_start_runs_s"]) == len(board["round_status_cli_runs_s"]) == 1
    assert board["cli_600_over_cli_start"] == board["round_status_cli_s"] / board["cli_start_s"]

    portal = results["portal"]
    assert portal["clients"] == 3 and portal["requests"] > 0, portal
    assert portal["errors"] == 0, portal["error_kinds"]
    assert portal["p99_ms_20_concurrent"] > 0 and set(portal["by_kind"]) == {"dashboard", "offer", "comment"}
    one = portal["one_client"]
    assert one["requests"] > 0 and one["errors"] == 0, one["error_kinds"]
    assert set(one["by_kind"]) == {"dashboard", "offer", "comment"} and portal["order"] == "1 3 1"
    assert portal["p99_20_over_p99_1"] == portal["p99_ms_20_concurrent"] / one["latency"]["p99_ms"]
    databases = portal["databases"]  # the tests' machine has PostgreSQL (make test installs it)
    for which in ("sqlite", "postgresql"):
        assert {kind: lat["n"] for kind, lat in databases[which].items()} == dict.fromkeys(
            ("sign_in", "dashboard_page", "offer_page"), 2
        )
    assert portal["postgres_over_sqlite_p99"] == max(databases["p99_ratio_by_kind"].values()) > 0
    assert databases["cpu_s"]["postgresql_server"] >= 0

    assert results["scale"]["listed"] == 12 and results["scale"]["worker_rss_mib"] > 0
    skipped = {"rendering.3_pages.instructions_times_plain_text"} if "instructions_skipped" in counted else set()
    assert set(results["goals"]) == {key for key, _, _ in GOALS} - skipped
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


def test_the_databases_take_turns_a_b_b_a() -> None:
    assert order(4) == ["sqlite", "postgresql", "postgresql", "sqlite"] * 2
    turns = order(6)
    assert sum(i for i, w in enumerate(turns) if w == "sqlite") == sum(i for i, w in enumerate(turns) if w != "sqlite")


def test_the_database_ratio_is_the_worst_kinds() -> None:
    def p99(**by_kind: float) -> dict[str, dict[str, float]]:
        return {kind: {"p99_ms": ms} for kind, ms in by_kind.items()}

    found = {
        "sqlite": p99(sign_in=300, dashboard_page=40, offer_page=100),
        "postgresql": p99(sign_in=330, dashboard_page=60, offer_page=90),
    }
    assert worst_ratio(found) == ("dashboard_page", 1.5)
    assert worst_ratio({**found, "postgresql": {**found["postgresql"], "offer_page": {}}}) is None


def test_a_machine_without_postgresql_skips_the_comparison_with_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks.portal_databases as part

    def no_server() -> None:
        raise NoPostgres("no PostgreSQL server on this machine")

    monkeypatch.setattr(part, "Postgres", no_server)
    nothing: Any = None
    found = asyncio.run(part.compare_databases({}, nothing, nothing, nothing, 1))
    assert found == {"databases": {"skipped": "no PostgreSQL server on this machine"}}

    portal = {
        "clients": 20,
        "latency": {},
        "by_kind": {},
        "requests_per_s": 1.0,
        "errors": 0,
        "cpu_s": {"portal": 1.0, "server": 1.0, "worker": 1.0},
        **found,
    }
    console = Console(record=True, width=200)
    console.print(report({"portal": portal}))
    assert "skipped: no PostgreSQL server on this machine" in console.export_text()
    assert "portal.postgres_over_sqlite_p99" not in goals({"portal": portal})
