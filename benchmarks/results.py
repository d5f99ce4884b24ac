"""The benchmark's results: the parts and the keys of results.json each writes, issue 15's goals, carrying the
figures of parts not run this time, and the table printed at the end."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from typing import Any

from rich.table import Table

PARTS = ("round", "rendering", "full_schedule", "dashboard", "portal", "scale")
KEYS = {
    "round": ("round", "without_temporal", "durability_ratio", "durability"),
    "rendering": ("rendering",),
    "full_schedule": ("full_schedule",),
    "dashboard": ("dashboard",),
    "portal": ("portal",),
    "scale": ("scale",),
}
"""The keys of results.json each part writes."""

GOALS: list[tuple[str, str, float]] = [
    ("round.events_per_offer", "≤", 40),
    ("round.workflow_tasks_per_offer", "≤", 5),
    ("round.approve_p99_over_floor_p99", "≤", 1.2),
    ("round.submit_p99_over_floor_p99", "≤", 2.0),
    ("durability_ratio", "≥", 0.85),
    ("rendering.3_pages.times_plain_text", "≤", 2.5),
    ("rendering.3_pages.instructions_times_plain_text", "≤", 2.5),
    ("full_schedule.submit_s", "<", 5),
    ("full_schedule.letter_s", "<", 5),
    ("dashboard.cli_600_over_cli_start", "≤", 1.5),
    ("portal.p99_20_over_p99_1", "≤", 4),
    ("scale.worker_rss_mib", "<", 1024),
    ("portal.postgres_over_sqlite_p99", "≤", 1.2),
    ("round.observability_overhead_cpu", "≤", 1.1),
    ("round.observability_overhead_approve_p99", "≤", 1.1),
    ("rendering.3_pages.signing_overhead", "≤", 0.2),
]
"""Issue 26's goals (ratios taken in one run, and counts that do not move with the machine), with those of issue
22 (PostgreSQL beside SQLite), 23 (the cost of metrics and tracing) and 24 (the cost of signing): the figure under
each key, and what it must be. A key a part could not measure (no PostgreSQL, no valgrind) is shown as missing."""


def figure(results: dict[str, Any], key: str) -> Any:
    found: Any = results
    for name in key.split("."):
        if not isinstance(found, dict) or name not in found:
            return None
        found = found[name]
    return found


def goals(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each goal whose figure is in the results: the figure, the goal, and whether it is met."""
    check: dict[str, Callable[[float, float], bool]] = {
        "<": lambda a, b: a < b,
        "≤": lambda a, b: a <= b,
        "≥": lambda a, b: a >= b,
    }
    out = {}
    for key, op, bound in GOALS:
        value = figure(results, key)
        if isinstance(value, int | float):
            out[key] = {"figure": value, "goal": f"{op} {bound:g}", "met": check[op](value, bound)}
    return out


def _ms(lat: dict[str, Any]) -> str:
    return f"{lat['p50_ms']:.0f} / {lat['p95_ms']:.0f} / {lat['p99_ms']:.0f} ms ({lat['n']})" if lat else "none"


Row = tuple[str, str, str]
"""A line of the table: what is measured, its figure, and the key of its goal ("" for none)."""


def _round_rows(results: dict[str, Any]) -> list[Row]:
    r, d = results["round"], results["without_temporal"]
    rows = [
        ("1. round wall time (through Temporal)", f"{r['wall_s']:.1f} s for {r['offers']} offers", ""),
        ("   offers per second, end to end", f"{r['offers_per_s']:.2f}", ""),
        (
            "   CPU: worker (its render pool) / server / floor worker",
            f"{r['worker_cpu_s']:.1f} s ({r['render_pool_cpu_s']:.1f} s) / {r['server_cpu_s']:.1f} s"
            f" / {r['floor_worker_cpu_s']:.1f} s",
            "",
        ),
        (
            "   worker's own CPU per offer (outside rendering)",
            f"{r['worker_main_cpu_ms_per_offer']:.0f} ms",
            "round.worker_main_cpu_ms_per_offer",
        ),
        ("2. without Temporal, offers per second", f"{d['offers_per_s']:.2f} ({d['cpu_s']:.1f} s CPU)", ""),
        (
            f"   durability ratio (1) / (2), {results['durability']['order']}",
            f"{results['durability_ratio']:.2f}",
            "durability_ratio",
        ),
        (
            f"3. submit p50 / p95 / p99 ({r['submits_per_s']:g} a second)",
            _ms(r["submit_latency"]),
            "round.submit_latency.p99_ms",
        ),
        (
            f"   approve ({r['reviewers_at_once']} reviewers, {r['review_s']:g} s to read each)",
            _ms(r["approve_latency"]),
            "round.approve_latency.p99_ms",
        ),
    ]
    for phase, when in (("submitting", "while offers still arrive"), ("rendering", "once only letters render")):
        rows.append((f"   approve, {when}", _ms(r[f"approve_latency_while_{phase}"]), ""))
    rows.append(("   floor update (trivial workflow), same moments", _ms(r["floor_update_latency"]), ""))
    rows.append(
        ("   approve p99 / floor p99", f"{r['approve_p99_over_floor_p99']:.2f}×", "round.approve_p99_over_floor_p99")
    )
    if "submit_p99_over_floor_p99" in r:
        at_submit = _ms(r["floor_update_latency_at_submit"])
        rows.append(("   floor update at each submission", at_submit, ""))
        rows.append(
            ("   submit p99 / floor p99", f"{r['submit_p99_over_floor_p99']:.2f}×", "round.submit_p99_over_floor_p99")
        )
    if "events_per_offer" in r:
        rows += [
            (
                "   history per offer, invitation to letter: events (most)",
                f"{r['events_per_offer']:.1f} ({r['events_per_offer_max']})",
                "round.events_per_offer",
            ),
            (
                "   workflow tasks per offer, invitation to letter (most)",
                f"{r['workflow_tasks_per_offer']:.1f} ({r['workflow_tasks_per_offer_max']})",
                "round.workflow_tasks_per_offer",
            ),
            (
                "   to the deal: events / tasks; the round's events per offer",
                f"{r['events_per_offer_to_the_deal']:.1f} / {r['workflow_tasks_per_offer_to_the_deal']:.1f}; "
                f"{r['round_events_per_offer']:.1f}",
                "",
            ),
        ]
    if "observability_overhead_cpu" in r:
        o = r["observability"]
        rows += [
            (
                f"   metrics + tracing on ({r['observability_order']}): worker's own CPU per offer",
                f"{o['worker_main_cpu_ms_per_offer']:.0f} ms = {r['observability_overhead_cpu']:.2f}× off",
                "round.observability_overhead_cpu",
            ),
            (
                "      with the render pool / approve p99",
                f"{r['observability_overhead_cpu_with_render_pool']:.2f}× / "
                f"{r['observability_overhead_approve_p99']:.2f}× off ({_ms(o['approve_latency'])})",
                "round.observability_overhead_approve_p99",
            ),
        ]
    return rows


def _rendering_rows(lz: dict[str, Any]) -> list[Row]:
    rows = [("4. one-line WeasyPrint floor", f"{lz['floor_one_line_s'] * 1000:.0f} ms", "")]
    for label in ("3_pages", "15_pages"):
        x = lz[label]
        rows.append(
            (
                f"   {x['pages']}-page letter ({x['tariff_lines']} lines)",
                f"{x['best_single_s'] * 1000:.0f} ms = {x['times_floor']:.1f}× floor; "
                f"{x['letters_per_s_per_core']:.2f} letters/s/core",
                "",
            )
        )
        rows.append(
            (
                f"   plain paragraphs, {x['pages']} pages, written as letters are",
                f"{x['plain_text_same_pages_s'] * 1000:.0f} ms; the letter takes {x['times_plain_text']:.1f}× that",
                f"rendering.{label}.times_plain_text",
            )
        )
        if "instructions_times_plain_text" in x:
            rows.append(
                (
                    "      the same, counted in instructions (callgrind)",
                    f"{x['letter_instructions'] / 1e6:,.0f} M against {x['plain_text_instructions'] / 1e6:,.0f} M = "
                    f"{x['instructions_times_plain_text']:.2f}×",
                    f"rendering.{label}.instructions_times_plain_text",
                )
            )
        elif "instructions_skipped" in x:
            rows.append(("      the same, counted in instructions", f"skipped: {x['instructions_skipped']}", ""))
        if "signing_s" in x:
            rows.append(
                (
                    "   signing it (PAdES, the signed bytes checked)",
                    f"{x['signing_s'] * 1000:.0f} ms = {x['signing_overhead']:.0%} of the letter's render",
                    f"rendering.{label}.signing_overhead",
                )
            )
        if "plain_text_untagged_s" in x:
            rows.append(
                (
                    "      the same, untagged PDF 1.7 (WeasyPrint's defaults)",
                    f"{x['plain_text_untagged_s'] * 1000:.0f} ms; the letter takes "
                    f"{x['times_plain_text_untagged']:.1f}× that",
                    "",
                )
            )
    return rows


def _full_schedule_rows(f: dict[str, Any]) -> list[Row]:
    return [
        (
            f"5. full schedule ({f['tariff_lines']:,} lines, {f['document_bytes'] / 2**20:.1f} MiB): submit",
            f"{f['submit_s']:.2f} s to UNDER_REVIEW (the call {f['submit_call_s']:.2f} s)",
            "full_schedule.submit_s",
        ),
        (
            "   its letter, from the approval completing quorum",
            f"{f['letter_s']:.2f} s to LETTER_ISSUED ({f['letter_pages']} pages)",
            "full_schedule.letter_s",
        ),
    ]


def _dashboard_rows(b: dict[str, Any]) -> list[Row]:
    rows = [
        (
            f"6. {b['partners']} partners ({b['submitted']} submitted): round status (CLI)",
            f"{b['round_status_cli_s']:.2f} s",
            "",
        )
    ]
    if "cli_start_s" in b:  # issue 26; figures from before it have none
        rows.append(
            (
                "   the CLI's own start (offerdesk --help); round status over it",
                f"{b['cli_start_s']:.2f} s; {b['cli_600_over_cli_start']:.2f}",
                "dashboard.cli_600_over_cli_start",
            )
        )
    rows.append(
        (
            "   staff dashboard: page / API (first page)",
            f"{b['staff_page_s']:.2f} s / {b['staff_api_s']:.2f} s ({b['staff_page_first_s']:.2f} s)",
            "",
        )
    )
    if "portal_cpu_s_per_dashboard" in b:
        rows.append(
            (
                "   CPU per dashboard view: portal / server",
                f"{b['portal_cpu_s_per_dashboard']:.2f} s / {b['server_cpu_s_per_dashboard']:.2f} s",
                "",
            )
        )
    rows.append(("   the slowest of them", f"{b['dashboard_600_s']:.2f} s", "dashboard.dashboard_600_s"))
    return rows


def _portal_rows(p: dict[str, Any]) -> list[Row]:
    return [
        (f"7. portal, {p['clients']} API clients: p50 / p95 / p99", _ms(p["latency"]), "portal.p99_ms_20_concurrent"),
        *((f"   {kind}", _ms(lat), "") for kind, lat in p["by_kind"].items()),
        ("   requests per second / errors", f"{p['requests_per_s']:.1f} / {p['errors']}", ""),
        (
            "   CPU meanwhile: portal / server / worker",
            " / ".join(f"{p['cpu_s'][name]:.1f} s" for name in ("portal", "server", "worker")),
            "",
        ),
        *_one_client_rows(p),
        *_database_rows(p),
    ]


def _one_client_rows(p: dict[str, Any]) -> list[Row]:
    one = p.get("one_client")
    if not one or p.get("p99_20_over_p99_1") is None:
        return []
    return [
        (f"   one client alone ({p['order']}): p50 / p95 / p99", _ms(one["latency"]), ""),
        ("   requests per second / errors", f"{one['requests_per_s']:.1f} / {one['errors']}", ""),
        (f"   p99 at {p['clients']} clients / p99 at 1", f"{p['p99_20_over_p99_1']:.1f}×", "portal.p99_20_over_p99_1"),
    ]


def _database_rows(p: dict[str, Any]) -> list[Row]:
    db = p.get("databases")
    if not db:
        return []
    if "skipped" in db or p.get("postgres_over_sqlite_p99") is None:
        return [("   PostgreSQL beside SQLite", "skipped: " + db.get("skipped", "a kind had no samples"), "")]
    rows: list[Row] = []
    for kind, label in (
        ("sign_in", "sign-in (the form)"),
        ("dashboard_page", "dashboard page"),
        ("offer_page", "offer page"),
    ):
        rows.append(
            (
                f"   {label}: SQLite / PostgreSQL p99",
                f"{db['sqlite'][kind].get('p99_ms', 0):.0f} / {db['postgresql'][kind].get('p99_ms', 0):.0f} ms"
                f" = {db['p99_ratio_by_kind'].get(kind, 0):.2f}×",
                "",
            )
        )
    rows.append(
        (
            f"   PostgreSQL / SQLite p99, worst kind ({db['visits_each']} visits each, A B B A)",
            f"{p['postgres_over_sqlite_p99']:.2f}× ({db['worst_kind']}; overall {db['overall_p99_ratio']:.2f}×)",
            "portal.postgres_over_sqlite_p99",
        )
    )
    return rows


def _scale_rows(s: dict[str, Any]) -> list[Row]:
    opening = f" ({s['of_which_opening_rounds_s']:.0f} s opening)" if "of_which_opening_rounds_s" in s else ""
    return [
        (
            f"8. {s['open_offers']} open offers: worker RSS",
            f"{s['worker_rss_mib']:.0f} MiB (with render pool {s['worker_and_pool_rss_mib']:.0f} MiB)",
            "scale.worker_rss_mib",
        ),
        (
            f"   set up: {s.get('rounds', '?')} round(s), {s.get('submitted_at_once', 64)} submissions at a time",
            f"{s['submitted_in_s']:.0f} s{opening}",
            "",
        ),
        ("   list them by state (visibility)", f"{s['list_by_state_s'] * 1000:.0f} ms for {s['listed']}", ""),
    ]


def report(results: dict[str, Any]) -> Table:
    """The table printed at the end: each part's figures whose part is in the results, each goal met or missed."""
    rows: list[Row] = _round_rows(results) if "round" in results else []
    for part, rows_of in (
        ("rendering", _rendering_rows),
        ("full_schedule", _full_schedule_rows),
        ("dashboard", _dashboard_rows),
        ("portal", _portal_rows),
        ("scale", _scale_rows),
    ):
        if part in results:
            rows += rows_of(results[part])
    table = Table(title="Offerdesk benchmark (issue 15)", show_lines=False)
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("goal")
    met = goals(results)
    for measure, shown, key in rows:
        verdict = ""
        if key in met:
            verdict = f"{met[key]['goal']} " + ("[green]met[/]" if met[key]["met"] else "[red]missed[/]")
        table.add_row(measure, shown, verdict)
    carried = [p for p, how in results.get("parts", {}).items() if how.get("carried_from")]
    if carried:
        table.caption = f"carried over from an earlier run: {', '.join(carried)}"
    return table


def merge(measured: dict[str, Any], parts: list[str], when: str, previous: dict[str, Any]) -> dict[str, Any]:
    """The results to write: the parts just run, and the last figures of parts not run this time (each part
    says when it was measured), and every goal met or missed."""
    results: dict[str, Any] = {
        "when": when,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "parts": {},
    }
    for part in PARTS:
        if part in parts:
            results["parts"][part] = {"when": when}
            results |= {key: measured[key] for key in KEYS[part]}
        elif previous and all(key in previous for key in KEYS[part]):
            results |= {key: previous[key] for key in KEYS[part]}
            then = previous.get("parts", {}).get(part, {}).get("when") or previous.get("when")
            results["parts"][part] = {"when": then, "carried_from": then}
    results["goals"] = goals(results)
    return results
