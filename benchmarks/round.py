"""How fast a round goes end to end, and where people wait (`make bench`; see benchmarks/README.md).

Runs on its own embedded dev server, an `offerdesk worker` process, a small worker of its own for the floor
workflow and, for the dashboard and portal parts, an `offerdesk portal` process and the `offerdesk` CLI: so
their CPU and memory are measured apart from the load generator. Prints a table with each goal met or missed,
and writes benchmarks/results.json.

This module runs the benchmark and holds its round (parts 1 to 3); the other parts have modules of their own:
rendering.py (4), full_schedule.py (5), portal.py (6 and 7), scale.py (8); results.py holds the goals, the
keys of results.json and the table; common.py what they share.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from activities.offer_activities import make_render_pool, render_processes
from activities.render import render_letter_pdf
from activities.signing.identity import SigningConfig, make_dev_identity
from activities.signing.sign import sign_letter
from activities.store import FolderStore, Kind, ObjectStore
from benchmarks.common import (
    OFFERDESK,
    REVIEWERS,
    ROOT,
    abba,
    bench_round,
    console,
    cpu_seconds,
    letter_input,
    offers,
    partners,
    percentiles,
    timed,
)
from benchmarks.floor import FLOOR_QUEUE, FloorWorkflow, floor_workflow_id
from benchmarks.full_schedule import full_schedule
from benchmarks.history import history_cost, letter_accepted
from benchmarks.observability import (
    OBSERVED_QUEUE,
    ObservedWorker,
    SpanSink,
    observed_env,
    overhead,
    scraping,
    traced_engine,
)
from benchmarks.portal import PortalProcess, dashboard, open_round_with_offers, portal_env, portal_load
from benchmarks.portal_databases import compare_databases
from benchmarks.rendering import rendering
from benchmarks.results import GOALS, PARTS, merge, report
from benchmarks.scale import scale
from offerdesk.config import Settings
from offerdesk.converter import ensure_keyring
from offerdesk.devserver import DevServer, free_port, stop_process
from offerdesk.engine import Engine
from offerdesk.people.migrate import upgrade
from offers.reference import load_policy
from schemas.document_ref import canonical_bytes
from schemas.offer import OfferDocument
from schemas.partner import PartnerReference
from schemas.review import Approve
from schemas.round import RoundStatus
from workflows.names import round_workflow_id

__all__ = ["GOALS", "PARTS", "abba", "main", "merge", "offers", "partners"]


# ---- 1 to 3: a round through Temporal, interleaved with the same work without it --------------------


@dataclass
class Samples:
    """Latencies (seconds) of one round, by what was sent and by phase (offers still arriving, or not)."""

    submit: list[float]
    approve: dict[str, list[float]]
    floor: dict[str, list[float]]
    floor_at_submit: list[float]

    @classmethod
    def empty(cls) -> Samples:
        return cls([], {"submitting": [], "rendering": []}, {"submitting": [], "rendering": []}, [])


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
    The batch ends when every offer's workflow has completed with its letter issued (and accepted, which ends it)."""
    arrived = 0
    desk = asyncio.Semaphore(args.reviewers)
    floors: list[asyncio.Task[Any]] = []
    cpu0 = {name: cpu_seconds(p) for name, p in procs.items()}
    main0 = cpu_seconds(procs["worker"], children=False)
    start = time.perf_counter()

    async def one(i: int, doc: OfferDocument) -> None:
        nonlocal arrived
        await asyncio.sleep(i / args.submit_rate)
        floor = engine.client.get_workflow_handle(floor_workflow_id(round_id, doc.partner))
        at_submit = timed(samples.floor_at_submit, lambda: floor.execute_update(FloorWorkflow.touch, 0))
        floors.append(asyncio.create_task(at_submit))
        receipt = await timed(samples.submit, lambda: engine.submit(doc, by="benchmark"))
        arrived += 1
        assert receipt.state.value == "UNDER_REVIEW", receipt
        for n, reviewer in enumerate(REVIEWERS):
            request = Approve(reviewer=reviewer, version=receipt.version)
            async with desk:
                await asyncio.sleep(args.review_s)
                phase = "submitting" if arrived < len(docs) else "rendering"
                touch = timed(samples.floor[phase], lambda: floor.execute_update(FloorWorkflow.touch, n))  # noqa: B023
                floors.append(asyncio.create_task(touch))
                await timed(samples.approve[phase], lambda: engine.approve(round_id, doc.partner, request))  # noqa: B023
        outcome = await letter_accepted(engine, round_id, doc.partner)
        assert outcome.state.value == "ACCEPTED" and outcome.letter is not None, outcome

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
    signing: SigningConfig | None = None,
) -> dict[str, Any]:
    """Storing the document, validation, landing zone, rendering, signing and storing the report and letter,
    called directly from this process with the worker's kind of render pool."""
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
        if signing is not None:  # as the worker does
            pdf = (await loop.run_in_executor(pool, sign_letter, signing, pdf)).pdf
        await asyncio.to_thread(store.put, Kind.LETTER, pdf)

    await asyncio.gather(*(one(d) for d in docs))
    return {
        "offers": len(docs),
        "wall_s": time.perf_counter() - start,
        "cpu_s": cpu_seconds(me, leave_out=leave_out) - cpu0,
    }


def _noop() -> None:
    pass


async def _floors(engine: Engine, round_id: str, docs: list[OfferDocument]) -> None:
    for doc in docs:  # a floor workflow per offer, as each approval goes to an offer's workflow of its own
        floor = await engine.client.start_workflow(
            FloorWorkflow.run, id=floor_workflow_id(round_id, doc.partner), task_queue=FLOOR_QUEUE
        )
        await floor.execute_update(FloorWorkflow.touch, -1)  # started, in the floor worker's cache, as offers are


async def _all_issued(engine: Engine, round_id: str, docs: list[OfferDocument]) -> None:
    status = await engine.client.get_workflow_handle(round_workflow_id(round_id), result_type=RoundStatus).result()
    issued = sum(o.state.value == "ACCEPTED" and o.letter is not None for o in status.outcomes)
    assert issued == len(docs), f"only {issued} of {len(docs)} letters issued"
    for doc in docs:
        await engine.client.get_workflow_handle(floor_workflow_id(round_id, doc.partner)).signal(FloorWorkflow.finish)


async def round_part(
    engine: Engine,
    home: Path,
    procs: dict[str, psutil.Process],
    args: argparse.Namespace,
    leave_out: list[int],
    observed: ObservedWorker | None = None,
) -> dict[str, Any]:
    """One round of `partners` offers split into `batches` batches; each batch goes through Temporal and, on its
    own, through the same work without Temporal, the two interleaved (see `abba`); with `observed`, through a
    worker with metrics and tracing on as well (benchmarks/observability.py). The ratio of offers per
    second comes from the summed wall times of each pipeline."""
    refs = partners(args.partners)
    round_id = f"bench-{int(time.time())}"
    docs = offers(round_id, refs)
    size = -(-len(docs) // args.batches)
    batches = [docs[i : i + size] for i in range(0, len(docs), size)]
    setup = Engine(engine.client, engine.store, task_queue=engine.task_queue, update_timeout=3600)  # not measured
    await setup.open_round(bench_round(round_id, refs, deadline_in=timedelta(hours=3), review=timedelta(hours=3)))
    await _floors(engine, round_id, docs)
    pipelines: tuple[str, ...] = ("temporal", "direct", "observed") if observed else ("temporal", "direct")
    observed_round, observed_docs = f"{round_id}-obs", offers(f"{round_id}-obs", refs)
    if observed:  # the same offers, in a round of its own on the observed worker's queue
        patient = Engine(observed.engine.client, engine.store, task_queue=OBSERVED_QUEUE, update_timeout=3600)
        await patient.open_round(
            bench_round(observed_round, refs, deadline_in=timedelta(hours=3), review=timedelta(hours=3))
        )
        await _floors(engine, observed_round, observed_docs)
    observed_batches = [observed_docs[i : i + size] for i in range(0, len(observed_docs), size)]
    observed_samples, scrapes = Samples.empty(), []
    samples = Samples.empty()
    pool = make_render_pool()
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(pool, _noop) for _ in range(render_processes())))  # spawned, warm
    store = FolderStore(home / "direct-store")
    by_code = {p.code: p for p in refs}
    runs: dict[str, list[dict[str, Any]]] = {"temporal": [], "direct": [], "observed": []}
    try:
        for k, which in abba(len(batches), pipelines):
            console.print(f"   batch {k + 1} of {len(batches)} ({len(batches[k])} offers) {which} …")
            if which == "temporal":
                runs[which].append(await temporal_batch(engine, batches[k], round_id, procs, args, samples))
            elif which == "observed" and observed:
                on = {**procs, "worker": observed.process}
                async with scraping(observed.metrics_port) as sizes:
                    batch = observed_batches[k]
                    runs[which].append(
                        await temporal_batch(observed.engine, batch, observed_round, on, args, observed_samples)
                    )
                scrapes += sizes
            else:
                signing = SigningConfig(key=str(home / "signing.p12"), passphrase_file=str(home / "signing.pass"))
                runs[which].append(await direct_batch(batches[k], by_code, store, pool, leave_out, signing))
    finally:
        pool.shutdown()
    await _all_issued(engine, round_id, docs)
    cost = await history_cost(engine.client, round_id, [d.partner for d in docs])
    if observed:
        await _all_issued(engine, observed_round, observed_docs)

    def total(which: str, key: str) -> float:
        return sum(float(b[key]) for b in runs[which])

    wall, direct_wall = total("temporal", "wall_s"), total("direct", "wall_s")
    main = total("temporal", "worker_main_cpu_s")
    approve = percentiles(samples.approve["submitting"] + samples.approve["rendering"])
    submit, floor_at_submit = percentiles(samples.submit), percentiles(samples.floor_at_submit)
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
        "submit_latency": submit,
        "review_s": args.review_s,
        "approve_latency": approve,
        "approve_latency_while_submitting": percentiles(samples.approve["submitting"]),
        "approve_latency_while_rendering": percentiles(samples.approve["rendering"]),
        "floor_update_latency": floor_latency,
        "floor_update_latency_while_submitting": percentiles(samples.floor["submitting"]),
        "floor_update_latency_while_rendering": percentiles(samples.floor["rendering"]),
        "approve_p99_over_floor_p99": approve["p99_ms"] / floor_latency["p99_ms"],
        "floor_update_latency_at_submit": floor_at_submit,
        "submit_p99_over_floor_p99": submit["p99_ms"] / floor_at_submit["p99_ms"],
        **cost,
        "by_batch": runs["temporal"],
    }
    if observed:
        on = {
            "offers": len(observed_docs),
            "wall_s": total("observed", "wall_s"),
            "worker_cpu_s": total("observed", "worker_cpu_s"),
            "worker_main_cpu_s": total("observed", "worker_main_cpu_s"),
            "approve_latency": percentiles(
                observed_samples.approve["submitting"] + observed_samples.approve["rendering"]
            ),
            "by_batch": runs["observed"],
        }
        temporal |= overhead(temporal, on, observed.sink, scrapes)
        temporal["observability_order"] = " ".join(f"{w[0].upper()}{k + 1}" for k, w in abba(len(batches), pipelines))
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
    assert settings.signing_passphrase_file is not None
    make_dev_identity(Path(settings.signing_key), settings.signing_passphrase_file)  # and the signing identity
    upgrade(settings.database)  # the worker and the portal refuse a database older than their code
    env = portal_env(home, settings, address)
    worker = subprocess.Popen([OFFERDESK, "worker"], env=env, stdout=subprocess.DEVNULL)
    sink = SpanSink()
    metrics_port = free_port()
    observing: subprocess.Popen[bytes] | None = None
    if "round" in parts:  # the same worker with metrics and tracing on, for the round's third pipeline
        with (home / "observed-worker.log").open("ab") as log:  # its JSON lines, apart from the table
            observing = subprocess.Popen(
                [OFFERDESK, "worker"], env=observed_env(env, sink, metrics_port), stdout=log, stderr=log
            )
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
        if observing:
            queues[OBSERVED_QUEUE] = "the observed offerdesk worker"
        for queue, what in queues.items():  # a worker takes some seconds to start on a busy machine
            if not await engine.worker_running(wait=180, task_queue=queue):
                raise RuntimeError(f"{what} did not poll task queue '{queue}' within 180 s")
        services = [worker.pid, server.process.pid]
        if "round" in parts:
            assert floor is not None
            console.print(f"[bold]1.[/] a round of {args.partners} partners, through Temporal and without it …")
            round_procs = {**procs, "floor": psutil.Process(floor.pid)}
            assert observing is not None
            observed = ObservedWorker(
                await traced_engine(engine, sink), psutil.Process(observing.pid), metrics_port, sink
            )
            leave = [*services, floor.pid, observing.pid]
            out |= await round_part(engine, home, round_procs, args, leave, observed)
            stop_process(observing, timeout=30)
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
                clients = f"{args.portal_clients} API clients on the portal for {args.portal_s:g} s"
                console.print(f"[bold]7.[/] {clients}, and one for as long …")
                out["portal"] = await portal_load(portal, board, args.portal_clients, args.portal_s, portal_procs)
                console.print(f"   {args.portal_visits} visits each to it and to a portal on PostgreSQL, in turn …")
                out["portal"] |= await compare_databases(env, settings, portal, board, args.portal_visits)
            await portal.stop()
        if "scale" in parts:
            console.print(f"[bold]8.[/] {args.open_offers} offers open at once …")
            out["scale"] = await scale(patient, args.open_offers, args.submit_at_once, procs)
    finally:
        if portal is not None:
            await portal.stop()
        stop_process(floor, timeout=30)
        stop_process(observing, timeout=30)
        stop_process(worker, timeout=30)
        sink.close()
        server.stop()
        shutil.rmtree(home, ignore_errors=True)  # the server's database grows to some 200 MB at 5,000 offers
    return out


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
    parser.add_argument("--portal-visits", type=int, default=300, help="visits to the portal on each database")
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
