"""How fast a round goes end to end, and where people wait (`make bench`; see benchmarks/README.md).

Runs on its own embedded dev server, an `offerdesk worker` process, a small worker of its own for the floor
workflow and, for the dashboard and portal parts, an `offerdesk portal` process and the `offerdesk` CLI: so
their CPU and memory are measured apart from the load generator. Prints a table with each goal met or missed,
and writes benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from rich.table import Table

from activities.offer_activities import make_render_pool, render_processes
from activities.render import render_letter_pdf, write_pdf
from activities.store import FolderStore, Kind, ObjectStore
from benchmarks.common import (
    OFFERDESK,
    REVIEWERS,
    ROOT,
    bench_round,
    console,
    cpu_seconds,
    listed_when,
    offers,
    partners,
    percentiles,
    submit_all,
    timed,
)
from benchmarks.floor import FLOOR_QUEUE, FloorWorkflow, floor_workflow_id
from benchmarks.full_schedule import full_schedule
from benchmarks.portal import PortalProcess, dashboard, open_round_with_offers, portal_env, portal_load
from offerdesk.config import Settings
from offerdesk.converter import ensure_keyring
from offerdesk.devserver import DevServer, stop_process
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from offers.landing_zone import propose_landing_zone
from offers.reference import LandingZonePolicy, load_policy
from offers.validation import validate_offer
from schemas.document_ref import canonical_bytes
from schemas.landing import AgreedTerms, Approval
from schemas.letter import LetterInput
from schemas.listing import OfferListing
from schemas.offer import OfferDocument
from schemas.offer_state import OfferOutcome, OfferState
from schemas.partner import PartnerReference
from schemas.review import Approve
from schemas.round import RoundStatus
from workflows.names import offer_workflow_id, round_workflow_id

__all__ = ["main", "offers", "partners"]

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
    ("round.approve_latency.p99_ms", "<", 100),
    ("round.submit_latency.p99_ms", "<", 150),
    ("round.worker_main_cpu_ms_per_offer", "≤", 30),
    ("rendering.3_pages.times_plain_text", "≤", 2.5),
    ("full_schedule.submit_s", "<", 5),
    ("full_schedule.letter_s", "<", 5),
    ("dashboard.dashboard_600_s", "<", 1),
    ("portal.p99_ms_20_concurrent", "<", 300),
    ("durability_ratio", "≥", 0.9),
    ("scale.worker_rss_mib", "<", 1024),
]
"""Issue 15's goals: the figure under each key, and what it must be."""


# ---- 1 to 3: a round through Temporal, interleaved with the same work without it --------------------


@dataclass
class Samples:
    """Latencies (seconds) of one round, by what was sent and by phase (offers still arriving, or not)."""

    submit: list[float]
    approve: dict[str, list[float]]
    floor: dict[str, list[float]]

    @classmethod
    def empty(cls) -> Samples:
        return cls([], {"submitting": [], "rendering": []}, {"submitting": [], "rendering": []})


async def temporal_batch(
    engine: Engine,
    docs: list[OfferDocument],
    round_id: str,
    procs: dict[str, psutil.Process],
    args: argparse.Namespace,
    samples: Samples,
) -> dict[str, Any]:
    """Partners submit `submit_rate` offers a second (faster than letters render, so the round stays saturated);
    a desk of `reviewers` people approves each offer as it comes under review, each taking `review_s` to read
    it first. Beside each approval, at the same moment, a floor update goes to a floor workflow of its own.
    The batch ends when every offer's workflow has completed with its letter issued."""
    arrived = 0
    desk = asyncio.Semaphore(args.reviewers)
    floors: list[asyncio.Task[Any]] = []
    cpu0 = {name: cpu_seconds(p) for name, p in procs.items()}
    main0 = cpu_seconds(procs["worker"], children=False)
    start = time.perf_counter()

    async def one(i: int, doc: OfferDocument) -> None:
        nonlocal arrived
        await asyncio.sleep(i / args.submit_rate)
        receipt = await timed(samples.submit, lambda: engine.submit(doc, by="benchmark"))
        arrived += 1
        assert receipt.state.value == "UNDER_REVIEW", receipt
        floor = engine.client.get_workflow_handle(floor_workflow_id(round_id, doc.partner))
        for n, reviewer in enumerate(REVIEWERS):
            request = Approve(reviewer=reviewer)
            async with desk:
                await asyncio.sleep(args.review_s)
                phase = "submitting" if arrived < len(docs) else "rendering"
                touch = timed(samples.floor[phase], lambda: floor.execute_update(FloorWorkflow.touch, n))  # noqa: B023
                floors.append(asyncio.create_task(touch))
                await timed(samples.approve[phase], lambda: engine.approve(round_id, doc.partner, request))  # noqa: B023
        offer = engine.client.get_workflow_handle(offer_workflow_id(round_id, doc.partner), result_type=OfferOutcome)
        outcome = await offer.result()
        assert outcome.state.value == "LETTER_ISSUED", outcome

    await asyncio.gather(*(one(i, d) for i, d in enumerate(docs)))
    wall = time.perf_counter() - start
    await asyncio.gather(*floors)
    cpu = {name: cpu_seconds(p) - cpu0[name] for name, p in procs.items()}
    main = cpu_seconds(procs["worker"], children=False) - main0
    return {
        "offers": len(docs),
        "wall_s": wall,
        "worker_cpu_s": cpu["worker"],
        "worker_main_cpu_s": main,
        "server_cpu_s": cpu["server"],
        "floor_worker_cpu_s": cpu["floor"],
    }


async def direct_batch(
    docs: list[OfferDocument],
    by_code: dict[str, PartnerReference],
    store: ObjectStore,
    pool: Executor,
    leave_out: list[int],
) -> dict[str, Any]:
    """Storing the document, validation, landing zone, rendering and storing the report and letter, called
    directly from this process with the worker's kind of render pool."""
    policy = load_policy()
    loop = asyncio.get_running_loop()
    me = psutil.Process()
    cpu0, start = cpu_seconds(me, leave_out=leave_out), time.perf_counter()

    async def one(doc: OfferDocument) -> None:
        await asyncio.to_thread(store.put, Kind.OFFER, canonical_bytes(doc))
        letter = letter_input(doc, by_code[doc.partner], policy)
        assert letter.report.clean
        await asyncio.to_thread(store.put, Kind.REPORT, letter.report.model_dump_json().encode())
        pdf, _ = await loop.run_in_executor(pool, render_letter_pdf, letter)
        await asyncio.to_thread(store.put, Kind.LETTER, pdf)

    await asyncio.gather(*(one(d) for d in docs))
    return {
        "offers": len(docs),
        "wall_s": time.perf_counter() - start,
        "cpu_s": cpu_seconds(me, leave_out=leave_out) - cpu0,
    }


def _noop() -> None:
    pass


def abba(batches: int) -> list[tuple[int, str]]:
    """The order the two pipelines run their batches in: T D, D T, T D, … (batch, pipeline).

    With an even number of batches, a drift of the machine's speed that is linear in time weighs the same on
    both pipelines' sums: with two batches, T₁ D₁ D₂ T₂."""
    order: list[tuple[int, str]] = []
    for k in range(batches):
        pair = ["temporal", "direct"] if k % 2 == 0 else ["direct", "temporal"]
        order += [(k, which) for which in pair]
    return order


async def round_part(
    engine: Engine, home: Path, procs: dict[str, psutil.Process], args: argparse.Namespace, leave_out: list[int]
) -> dict[str, Any]:
    """One round of `partners` offers split into `batches` batches; each batch goes through Temporal and, on its
    own, through the same work without Temporal, the two interleaved (see `abba`). The ratio of offers per
    second comes from the summed wall times of each pipeline."""
    refs = partners(args.partners)
    round_id = f"bench-{int(time.time())}"
    docs = offers(round_id, refs)
    size = -(-len(docs) // args.batches)
    batches = [docs[i : i + size] for i in range(0, len(docs), size)]
    await engine.open_round(bench_round(round_id, refs, deadline_in=timedelta(hours=3), review=timedelta(hours=3)))
    for doc in docs:  # a floor workflow per offer, as each approval goes to an offer's workflow of its own
        floor = await engine.client.start_workflow(
            FloorWorkflow.run, id=floor_workflow_id(round_id, doc.partner), task_queue=FLOOR_QUEUE
        )
        await floor.execute_update(FloorWorkflow.touch, -1)  # started, in the floor worker's cache, as offers are
    samples = Samples.empty()
    pool = make_render_pool()
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(pool, _noop) for _ in range(render_processes())))  # spawned, warm
    store = FolderStore(home / "direct-store")
    by_code = {p.code: p for p in refs}
    runs: dict[str, list[dict[str, Any]]] = {"temporal": [], "direct": []}
    try:
        for k, which in abba(len(batches)):
            console.print(f"   batch {k + 1} of {len(batches)} ({len(batches[k])} offers) {which} …")
            if which == "temporal":
                runs[which].append(await temporal_batch(engine, batches[k], round_id, procs, args, samples))
            else:
                runs[which].append(await direct_batch(batches[k], by_code, store, pool, leave_out))
    finally:
        pool.shutdown()
    status = await engine.client.get_workflow_handle(round_workflow_id(round_id), result_type=RoundStatus).result()
    issued = sum(o.state.value == "LETTER_ISSUED" for o in status.outcomes)
    assert issued == len(docs), f"only {issued} of {len(docs)} letters issued"
    for doc in docs:
        await engine.client.get_workflow_handle(floor_workflow_id(round_id, doc.partner)).signal(FloorWorkflow.finish)

    def total(which: str, key: str) -> float:
        return sum(float(b[key]) for b in runs[which])

    wall, direct_wall = total("temporal", "wall_s"), total("direct", "wall_s")
    main = total("temporal", "worker_main_cpu_s")
    approve = percentiles(samples.approve["submitting"] + samples.approve["rendering"])
    floor_latency = percentiles(samples.floor["submitting"] + samples.floor["rendering"])
    temporal = {
        "offers": len(docs),
        "batches": len(batches),
        "reviewers_at_once": args.reviewers,
        "submits_per_s": args.submit_rate,
        "wall_s": wall,
        "offers_per_s": len(docs) / wall,
        "worker_cpu_s": total("temporal", "worker_cpu_s"),
        "worker_main_cpu_s": main,
        "worker_main_cpu_ms_per_offer": main * 1000 / len(docs),
        "render_pool_cpu_s": total("temporal", "worker_cpu_s") - main,
        "server_cpu_s": total("temporal", "server_cpu_s"),
        "floor_worker_cpu_s": total("temporal", "floor_worker_cpu_s"),
        "submit_latency": percentiles(samples.submit),
        "review_s": args.review_s,
        "approve_latency": approve,
        "approve_latency_while_submitting": percentiles(samples.approve["submitting"]),
        "approve_latency_while_rendering": percentiles(samples.approve["rendering"]),
        "floor_update_latency": floor_latency,
        "floor_update_latency_while_submitting": percentiles(samples.floor["submitting"]),
        "floor_update_latency_while_rendering": percentiles(samples.floor["rendering"]),
        "approve_p99_over_floor_p99": approve["p99_ms"] / floor_latency["p99_ms"],
        "by_batch": runs["temporal"],
    }
    direct = {
        "offers": len(docs),
        "wall_s": direct_wall,
        "offers_per_s": len(docs) / direct_wall,
        "cpu_s": total("direct", "cpu_s"),
        "by_batch": runs["direct"],
    }
    return {
        "round": temporal,
        "without_temporal": direct,
        "durability_ratio": temporal["offers_per_s"] / direct["offers_per_s"],
        "durability": {
            "order": " ".join(f"{'T' if w == 'temporal' else 'D'}{k + 1}" for k, w in abba(len(batches))),
            "method": "each batch of offers through Temporal (T) and without it (D), interleaved T D D T …; "
            "the ratio of the summed wall times (the same offers both ways)",
        },
    }


# ---- 4: letter rendering alone --------------------------------------------------------------------


def _one_line_floor() -> float:
    """The least WeasyPrint takes for a one-line document: the floor under any letter."""
    import weasyprint

    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        weasyprint.HTML(string="<p>Offerdesk</p>").write_pdf()
        best = min(best, time.perf_counter() - start)
    return best


PARAGRAPH = "<p>" + "The partner lowers its duties on goods of the United States and opens its market. " * 8 + "</p>"
SINGLE_RENDERS = 7
"""Each letter and yardstick is timed this many times, one after another, in warm render processes; the best counts."""


def _paragraphs_filling(pages: int) -> str:
    """Plain paragraphs that fill `pages` pages when written the way letters are."""

    def pages_of(count: int) -> int:
        return write_pdf(PARAGRAPH * count)[1]

    count = max(1, (pages - 1) * 20 // pages_of(20) + 1)
    while pages_of(count) < pages:
        count += 1
    return PARAGRAPH * count


def _side_by_side(letter: LetterInput, pages: int) -> dict[str, float]:
    """The letter and plain paragraphs filling as many pages, timed in turn in one warm process, best of
    SINGLE_RENDERS each: the letter and its yardsticks see the same machine, whatever else it is doing.

    `letter_writer_s` writes the paragraphs through the letter's own writer (`write_pdf`: letter.css, the same
    fonts, tagged PDF/A-3a, no attachments), so that the two differ only in what is laid out; `untagged_s` uses
    WeasyPrint's defaults (an untagged PDF 1.7), the yardstick as it was measured before.
    """
    import weasyprint

    source = _paragraphs_filling(pages)
    letters: list[float] = []
    tagged = untagged = float("inf")
    for _ in range(SINGLE_RENDERS):
        start = time.perf_counter()
        render_letter_pdf(letter)
        letters.append(time.perf_counter() - start)
        start = time.perf_counter()
        write_pdf(source)
        tagged = min(tagged, time.perf_counter() - start)
        start = time.perf_counter()
        weasyprint.HTML(string=source).write_pdf()
        untagged = min(untagged, time.perf_counter() - start)
    return {
        "letter_s": min(letters),
        "letter_median_s": statistics.median(letters),
        "letter_writer_s": tagged,
        "untagged_s": untagged,
    }


def _render_timed(letter: LetterInput) -> tuple[float, int]:
    start = time.perf_counter()
    _, pages = render_letter_pdf(letter)
    return time.perf_counter() - start, pages


def letter_input(doc: OfferDocument, partner: PartnerReference, policy: LandingZonePolicy) -> LetterInput:
    """What the workflow hands the letter activity: validated, proposed, approved at the policy's rate."""
    today = datetime.now(UTC).date()
    report = validate_offer(doc, today)
    zone = propose_landing_zone(doc, partner, policy)
    now = datetime.now(UTC)
    terms = AgreedTerms(
        landing_zone=zone,
        agreed_rate_pct=zone.proposed_rate_pct,
        rate_set_by="the landing-zone policy",
        rate_reason="the policy's proposal",
        approvals=[Approval(reviewer=r, at=now) for r in REVIEWERS],
        agreed_at=now,
    )
    return LetterInput(
        round_id=doc.round_id,
        partner=doc.partner,
        partner_name=zone.partner_name,
        reference=f"OD/{doc.round_id}/{doc.partner}/v1",
        letter_date=today,
        offer_version=1,
        offer=doc,
        report=report,
        terms=terms,
    )


def letter_for(lines: int, partner: PartnerReference) -> LetterInput:
    doc = sample_offer("bench-letters", partner.code, lines=lines, seed=lines)
    return letter_input(doc, partner, load_policy())


async def rendering(letters_each: int, sizes: dict[str, int]) -> dict[str, Any]:
    """Letters in a render pool like the worker's, its processes warm as a running worker's are: each has
    rendered letters before any is timed, so the figures are of letters, not of a process setting up."""
    cores = os.cpu_count() or 1
    partner = partners(1)[0]
    pool = make_render_pool()
    loop = asyncio.get_running_loop()
    out: dict[str, Any] = {"cores": cores, "floor_one_line_s": await loop.run_in_executor(pool, _one_line_floor)}
    try:
        for label, lines in sizes.items():
            letter = letter_for(lines, partner)
            # More letters than processes at once, twice: every process has rendered this size before timing.
            for _ in range(2):
                warm = await asyncio.gather(
                    *(loop.run_in_executor(pool, _render_timed, letter) for _ in range(2 * cores))
                )
            pages = warm[0][1]
            timed = await loop.run_in_executor(pool, _side_by_side, letter, pages)
            best = timed["letter_s"]
            start = time.perf_counter()
            await asyncio.gather(*(loop.run_in_executor(pool, _render_timed, letter) for _ in range(letters_each)))
            wall = time.perf_counter() - start
            out[label] = {
                "tariff_lines": lines,
                "pages": pages,
                "best_single_s": best,
                "median_single_s": timed["letter_median_s"],
                "letters_per_s_per_core": letters_each / wall / cores,
                "times_floor": best / out["floor_one_line_s"],
                "plain_text_same_pages_s": timed["letter_writer_s"],
                "times_plain_text": best / timed["letter_writer_s"],
                "plain_text_untagged_s": timed["untagged_s"],
                "times_plain_text_untagged": best / timed["untagged_s"],
            }
    finally:
        pool.shutdown()
    return out


# ---- 5: many offers open at once -------------------------------------------------------------------


async def scale(engine: Engine, total: int, at_once: int, procs: dict[str, psutil.Process]) -> dict[str, Any]:
    """`total` offers submitted and waiting in their review windows; memory and a listing by state."""
    per_round = 600
    sizes = [min(per_round, total - i) for i in range(0, total, per_round)]
    stamp = int(time.time())
    rounds = [f"bench-open-{i}-{stamp}" for i in range(len(sizes))]
    me = psutil.Process()
    everyone = {**procs, "benchmark": me}
    leave_out = [p.pid for p in procs.values()]

    def cpu() -> dict[str, float]:
        return {name: cpu_seconds(p, leave_out=leave_out if p is me else ()) for name, p in everyone.items()}

    start, opening = time.perf_counter(), 0.0
    used = {"opening": dict.fromkeys(everyone, 0.0), "submitting": dict.fromkeys(everyone, 0.0)}

    def add(phase: str, before: dict[str, float]) -> None:
        after = cpu()
        for name in after:
            used[phase][name] += after[name] - before[name]

    for rid, count in zip(rounds, sizes, strict=True):
        refs = partners(count, salt=rid)
        begin, cpu0 = time.perf_counter(), cpu()
        await engine.open_round(bench_round(rid, refs, deadline_in=timedelta(hours=2), review=timedelta(days=3)))
        opening += time.perf_counter() - begin
        add("opening", cpu0)
        cpu0 = cpu()
        await submit_all(engine, [sample_offer(rid, p.code, lines=20, seed=i) for i, p in enumerate(refs)], at_once)
        add("submitting", cpu0)
    opened = time.perf_counter() - start
    worker = procs["worker"]

    def caught_up(found: list[OfferListing]) -> bool:
        return sum(o.round_id in rounds and o.state == "UNDER_REVIEW" for o in found) >= total

    await listed_when(engine, caught_up)  # visibility catches up a moment behind, then the listing is timed
    begin = time.perf_counter()
    listed = [o for o in await engine.list_offers(state=OfferState.UNDER_REVIEW) if o.round_id in rounds]
    list_s = time.perf_counter() - begin
    return {
        "open_offers": total,
        "submitted_in_s": opened,
        "rounds": len(rounds),
        "of_which_opening_rounds_s": opening,
        "setup_cpu_s": used,
        "submitted_at_once": at_once,
        "listed": len(listed),
        "list_by_state_s": list_s,
        "worker_rss_mib": worker.memory_info().rss / 2**20,
        "worker_and_pool_rss_mib": sum(p.memory_info().rss for p in [worker, *worker.children(recursive=True)]) / 2**20,
    }


# ---- the run ---------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, parts: list[str]) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="offerdesk-bench-"))
    port = args.port
    address = f"127.0.0.1:{port}"
    server = DevServer(home, port, port + 1000)
    server.start()
    assert server.process is not None
    settings = Settings.from_env({"OFFERDESK_HOME": str(home), "TEMPORAL_ADDRESS": address})
    ensure_keyring(settings.keys_file)  # the other processes find it under the same home
    env = portal_env(home, settings, address)
    worker = subprocess.Popen([OFFERDESK, "worker"], env=env, stdout=subprocess.DEVNULL)
    floor: subprocess.Popen[bytes] | None = None
    portal: PortalProcess | None = None
    out: dict[str, Any] = {}
    try:
        if "round" in parts:
            floor = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.floor", "--address", address, "--task-queue", FLOOR_QUEUE],
                env=env,
                cwd=ROOT.parent,
                stdout=subprocess.DEVNULL,
            )
        engine = await Engine.from_settings(settings)
        # Setting up (big rounds, thousands of submissions) waits as long as it takes; measured calls use the
        # engine above, with the installation's default timeout.
        patient = Engine(engine.client, engine.store, task_queue=engine.task_queue, update_timeout=3600)
        procs = {"worker": psutil.Process(worker.pid), "server": psutil.Process(server.process.pid)}
        queues = {engine.task_queue: "the offerdesk worker", **({FLOOR_QUEUE: "the floor worker"} if floor else {})}
        for queue, what in queues.items():  # a worker takes some seconds to start on a busy machine
            if not await engine.worker_running(wait=180, task_queue=queue):
                raise RuntimeError(f"{what} did not poll task queue '{queue}' within 180 s")
        services = [worker.pid, server.process.pid]
        if "round" in parts:
            assert floor is not None
            console.print(f"[bold]1.[/] a round of {args.partners} partners, through Temporal and without it …")
            round_procs = {**procs, "floor": psutil.Process(floor.pid)}
            out |= await round_part(engine, home, round_procs, args, [*services, floor.pid])
            stop_process(floor, timeout=30)
        if "rendering" in parts:
            console.print("[bold]4.[/] letter rendering alone …")
            out["rendering"] = await rendering(args.letters, {"3_pages": args.lines_3, "15_pages": args.lines_15})
        if "full_schedule" in parts:
            console.print(f"[bold]5.[/] one offer of {args.full_schedule_lines:,} tariff lines …")
            out["full_schedule"] = await full_schedule(patient, args.full_schedule_lines, procs)
        if "dashboard" in parts or "portal" in parts:
            console.print(
                f"[bold]6.[/] a round of {args.dashboard_partners} partners, {args.dashboard_submitted} submitted …"
            )
            board = await open_round_with_offers(
                patient, args.dashboard_partners, args.dashboard_submitted, args.submit_at_once
            )
            portal = await PortalProcess.start(env, settings)
            portal_procs = {**procs, "portal": psutil.Process(portal.pid)}
            if "dashboard" in parts:
                console.print("   its status (the CLI) and its dashboard (the portal) …")
                out["dashboard"] = await dashboard(env, portal, board, args.dashboard_repeats, portal_procs)
            if "portal" in parts:
                console.print(f"[bold]7.[/] {args.portal_clients} API clients on the portal for {args.portal_s:g} s …")
                out["portal"] = await portal_load(portal, board, args.portal_clients, args.portal_s, portal_procs)
            await portal.stop()
        if "scale" in parts:
            console.print(f"[bold]8.[/] {args.open_offers} offers open at once …")
            out["scale"] = await scale(patient, args.open_offers, args.submit_at_once, procs)
    finally:
        if portal is not None:
            await portal.stop()
        stop_process(floor, timeout=30)
        stop_process(worker, timeout=30)
        server.stop()
        shutil.rmtree(home, ignore_errors=True)  # the server's database grows to some 200 MB at 5,000 offers
    return out


# ---- the table -------------------------------------------------------------------------------------


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


def report(results: dict[str, Any]) -> Table:
    table = Table(title="Offerdesk benchmark (issue 15)", show_lines=False)
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("goal")
    met = goals(results)

    def goal(key: str) -> str:
        if key not in met:
            return ""
        g = met[key]
        return f"{g['goal']} " + ("[green]met[/]" if g["met"] else "[red]missed[/]")

    carried = [p for p, how in results.get("parts", {}).items() if how.get("carried_from")]
    if "round" in results:
        r, d = results["round"], results["without_temporal"]
        table.add_row("1. round wall time (through Temporal)", f"{r['wall_s']:.1f} s for {r['offers']} offers", "")
        table.add_row("   offers per second, end to end", f"{r['offers_per_s']:.2f}", "")
        table.add_row(
            "   CPU: worker (its render pool) / server / floor worker",
            f"{r['worker_cpu_s']:.1f} s ({r['render_pool_cpu_s']:.1f} s) / {r['server_cpu_s']:.1f} s"
            f" / {r['floor_worker_cpu_s']:.1f} s",
            "",
        )
        table.add_row(
            "   worker's own CPU per offer (outside rendering)",
            f"{r['worker_main_cpu_ms_per_offer']:.0f} ms",
            goal("round.worker_main_cpu_ms_per_offer"),
        )
        table.add_row("2. without Temporal, offers per second", f"{d['offers_per_s']:.2f} ({d['cpu_s']:.1f} s CPU)", "")
        table.add_row(
            f"   durability ratio (1) / (2), {results['durability']['order']}",
            f"{results['durability_ratio']:.2f}",
            goal("durability_ratio"),
        )
        table.add_row(
            f"3. submit p50 / p95 / p99 ({r['submits_per_s']:g} a second)",
            _ms(r["submit_latency"]),
            goal("round.submit_latency.p99_ms"),
        )
        table.add_row(
            f"   approve ({r['reviewers_at_once']} reviewers, {r['review_s']:g} s to read each)",
            _ms(r["approve_latency"]),
            goal("round.approve_latency.p99_ms"),
        )
        for phase, when in (("submitting", "while offers still arrive"), ("rendering", "once only letters render")):
            table.add_row(f"   approve, {when}", _ms(r[f"approve_latency_while_{phase}"]), "")
        table.add_row("   floor update (trivial workflow), same moments", _ms(r["floor_update_latency"]), "")
        table.add_row("   approve p99 / floor p99", f"{r['approve_p99_over_floor_p99']:.1f}×", "")
    if "rendering" in results:
        lz = results["rendering"]
        table.add_row("4. one-line WeasyPrint floor", f"{lz['floor_one_line_s'] * 1000:.0f} ms", "")
        for label in ("3_pages", "15_pages"):
            x = lz[label]
            table.add_row(
                f"   {x['pages']}-page letter ({x['tariff_lines']} lines)",
                f"{x['best_single_s'] * 1000:.0f} ms = {x['times_floor']:.1f}× floor; "
                f"{x['letters_per_s_per_core']:.2f} letters/s/core",
                "",
            )
            table.add_row(
                f"   plain paragraphs, {x['pages']} pages, written as letters are",
                f"{x['plain_text_same_pages_s'] * 1000:.0f} ms; the letter takes {x['times_plain_text']:.1f}× that",
                goal(f"rendering.{label}.times_plain_text"),
            )
            if "plain_text_untagged_s" in x:
                table.add_row(
                    "      the same, untagged PDF 1.7 (WeasyPrint's defaults)",
                    f"{x['plain_text_untagged_s'] * 1000:.0f} ms; the letter takes "
                    f"{x['times_plain_text_untagged']:.1f}× that",
                    "",
                )
    if "full_schedule" in results:
        f = results["full_schedule"]
        table.add_row(
            f"5. full schedule ({f['tariff_lines']:,} lines, {f['document_bytes'] / 2**20:.1f} MiB): submit",
            f"{f['submit_s']:.2f} s to UNDER_REVIEW (the call {f['submit_call_s']:.2f} s)",
            goal("full_schedule.submit_s"),
        )
        table.add_row(
            "   its letter, from the approval completing quorum",
            f"{f['letter_s']:.2f} s to LETTER_ISSUED ({f['letter_pages']} pages)",
            goal("full_schedule.letter_s"),
        )
    if "dashboard" in results:
        b = results["dashboard"]
        table.add_row(
            f"6. {b['partners']} partners ({b['submitted']} submitted): round status (CLI)",
            f"{b['round_status_cli_s']:.2f} s",
            "",
        )
        table.add_row(
            "   staff dashboard: page / API (first page)",
            f"{b['staff_page_s']:.2f} s / {b['staff_api_s']:.2f} s ({b['staff_page_first_s']:.2f} s)",
            "",
        )
        if "portal_cpu_s_per_dashboard" in b:
            table.add_row(
                "   CPU per dashboard view: portal / server",
                f"{b['portal_cpu_s_per_dashboard']:.2f} s / {b['server_cpu_s_per_dashboard']:.2f} s",
                "",
            )
        table.add_row("   the slowest of them", f"{b['dashboard_600_s']:.2f} s", goal("dashboard.dashboard_600_s"))
    if "portal" in results:
        p = results["portal"]
        table.add_row(
            f"7. portal, {p['clients']} API clients: p50 / p95 / p99",
            _ms(p["latency"]),
            goal("portal.p99_ms_20_concurrent"),
        )
        for kind, lat in p["by_kind"].items():
            table.add_row(f"   {kind}", _ms(lat), "")
        table.add_row("   requests per second / errors", f"{p['requests_per_s']:.1f} / {p['errors']}", "")
        table.add_row(
            "   CPU meanwhile: portal / server / worker",
            " / ".join(f"{p['cpu_s'][name]:.1f} s" for name in ("portal", "server", "worker")),
            "",
        )
    if "scale" in results:
        s = results["scale"]
        table.add_row(
            f"8. {s['open_offers']} open offers: worker RSS",
            f"{s['worker_rss_mib']:.0f} MiB (with render pool {s['worker_and_pool_rss_mib']:.0f} MiB)",
            goal("scale.worker_rss_mib"),
        )
        table.add_row(
            f"   set up: {s.get('rounds', '?')} round(s), {s.get('submitted_at_once', 64)} submissions at a time",
            f"{s['submitted_in_s']:.0f} s"
            + (f" ({s['of_which_opening_rounds_s']:.0f} s opening)" if "of_which_opening_rounds_s" in s else ""),
            "",
        )
        table.add_row(
            "   list them by state (visibility)", f"{s['list_by_state_s'] * 1000:.0f} ms for {s['listed']}", ""
        )
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


def _parts(text: str) -> list[str]:
    names = [p.strip().replace("-", "_") for p in text.split(",") if p.strip()]
    unknown = [p for p in names if p not in PARTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown part {', '.join(unknown)}; the parts are {', '.join(PARTS)}")
    return names


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", type=_parts, help=f"run only these parts, comma-separated: {','.join(PARTS)}")
    parser.add_argument("--skip", type=_parts, default=[], help="run every part but these, comma-separated")
    parser.add_argument("--partners", type=int, default=75, help="partners in the round (default 75)")
    parser.add_argument("--batches", type=int, default=2, help="batches the round and its twin are interleaved in")
    parser.add_argument("--submit-rate", type=float, default=10, help="offers submitted per second in the round")
    parser.add_argument("--reviewers", type=int, default=4, help="reviewers approving at the same moment")
    parser.add_argument("--review-s", type=float, default=0.5, help="seconds a reviewer reads an offer first")
    parser.add_argument("--letters", type=int, default=12, help="letters rendered per size in the rendering test")
    parser.add_argument("--lines-3", type=int, default=30, help="tariff lines of the '3-page' letter")
    parser.add_argument("--lines-15", type=int, default=600, help="tariff lines of the '15-page' letter")
    parser.add_argument("--full-schedule-lines", type=int, default=15000, help="tariff lines of the full schedule")
    parser.add_argument("--dashboard-partners", type=int, default=600, help="partners in the dashboard's round")
    parser.add_argument("--dashboard-submitted", type=int, default=100, help="of them, offers submitted")
    parser.add_argument("--dashboard-repeats", type=int, default=3, help="times each dashboard is timed (median)")
    parser.add_argument("--portal-clients", type=int, default=20, help="API clients on the portal at once")
    parser.add_argument("--portal-s", type=float, default=20, help="seconds the portal's clients run")
    parser.add_argument("--open-offers", type=int, default=5000, help="offers open at once for the scale test")
    parser.add_argument("--submit-at-once", type=int, default=64, help="submissions at once when setting up")
    parser.add_argument("--port", type=int, default=7633, help="port of the benchmark's own dev server")
    parser.add_argument("--output", type=Path, default=ROOT / "results.json")
    args = parser.parse_args(argv)
    parts = [p for p in (args.only or PARTS) if p not in args.skip]
    if not parts:
        parser.error("no part left to run")
    if args.batches < 1 or args.batches > args.partners:
        parser.error("--batches must be between 1 and --partners")
    started = datetime.now(UTC).isoformat()
    measured = asyncio.run(run(args, parts))
    previous: dict[str, Any] = {}
    if len(parts) < len(PARTS) and args.output.exists():  # a part run again: keep the others' last figures
        with contextlib.suppress(ValueError):
            previous = json.loads(args.output.read_text())
    results = merge(measured, parts, started, previous)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    console.print(report(results))
    console.print(f"Results written to {args.output}")
    return results


if __name__ == "__main__":
    main()
