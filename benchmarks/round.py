"""How fast a round goes end to end, and where the time goes (`make bench`; see benchmarks/README.md).

Runs on its own embedded dev server and a worker in a separate process (so their CPU and memory are
measured apart from the load generator), prints a table and writes benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from activities.landing_zone import propose_landing_zone
from activities.offer_activities import make_render_pool, render_processes
from activities.reference import LandingZonePolicy, load_partners, load_policy
from activities.render import render_letter_pdf
from activities.store import FolderStore, Kind, ObjectStore
from activities.validation import validate_offer
from offerdesk.config import Settings
from offerdesk.converter import ensure_keyring
from offerdesk.devserver import DevServer
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.landing import AgreedTerms, Approval
from schemas.letter import LetterInput
from schemas.offer import OfferDocument
from schemas.partner import PartnerReference
from schemas.review import Approve
from schemas.round import RoundSpec
from workflows.names import round_workflow_id
from workflows.round import RoundWorkflow

ROOT = Path(__file__).resolve().parent
OFFERDESK = str(Path(sys.executable).parent / "offerdesk")
REVIEWERS = ("Bench Reviewer One", "Bench Reviewer Two")
console = Console()


def partners(count: int, salt: str = "") -> list[PartnerReference]:
    """`count` partners: the real reference rows, then copies of them under unused two-letter codes."""
    real = list(load_partners().values())
    taken = {p.code for p in real}
    spare = [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase if a + b not in taken]
    random.Random(salt).shuffle(spare)
    out = list(real[:count])
    for i in range(count - len(out)):
        base = real[i % len(real)]
        out.append(base.model_copy(update={"code": spare[i], "name": f"{base.name} ({spare[i]})"}))
    return out


def offers(round_id: str, refs: list[PartnerReference], seed: int = 1) -> list[OfferDocument]:
    """Realistic offers: every category, 20 to 200 tariff lines each."""
    rng = random.Random(seed)
    return [sample_offer(round_id, p.code, lines=rng.randint(20, 200), seed=seed + i) for i, p in enumerate(refs)]


def bench_round(round_id: str, refs: list[PartnerReference], deadline_in: timedelta, review: timedelta) -> RoundSpec:
    """A round the benchmark opens: two approvals per offer, deadlines long enough never to fire mid-run."""
    return RoundSpec(
        round_id=round_id,
        partners=refs,
        deadline=datetime.now(UTC) + deadline_in,
        review_window=review,
        approvals_required=2,
        opened_by="bench",
    )


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    cuts = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 else [samples[0]] * 99
    return {"p50_ms": cuts[49] * 1000, "p95_ms": cuts[94] * 1000, "p99_ms": cuts[98] * 1000, "n": len(samples)}


def cpu_seconds(process: psutil.Process, children: bool = True) -> float:
    """CPU of a process and, unless told otherwise, all its children (the worker's render pool included)."""
    total = 0.0
    for p in [process, *(process.children(recursive=True) if children else [])]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


async def timed(samples: list[float], call: Callable[[], Awaitable[Any]]) -> Any:
    start = time.perf_counter()
    result = await call()
    samples.append(time.perf_counter() - start)
    return result


# ---- 1 and 3: a round through Temporal -----------------------------------------------------------


async def through_temporal(
    engine: Engine,
    docs: list[OfferDocument],
    refs: list[PartnerReference],
    round_id: str,
    procs: dict[str, Any],
    reviewers: int,
    submit_rate: float,
    review_s: float,
) -> dict[str, Any]:
    """Partners submit `submit_rate` offers a second (faster than letters render, so the round stays saturated);
    a desk of `reviewers` people approves each offer as it comes under review, each taking `review_s` to read
    it first. Approvals are timed apart while submissions still arrive and once only letters are rendering."""
    await engine.open_round(bench_round(round_id, refs, deadline_in=timedelta(hours=1), review=timedelta(hours=1)))
    submits: list[float] = []
    approves_by_phase: dict[str, list[float]] = {"submitting": [], "rendering": []}
    arrived = 0
    desk = asyncio.Semaphore(reviewers)
    cpu0 = {name: cpu_seconds(p) for name, p in procs.items()}
    main0 = cpu_seconds(procs["worker"], children=False)
    start = time.perf_counter()

    async def one(i: int, doc: OfferDocument) -> None:
        nonlocal arrived
        await asyncio.sleep(i / submit_rate)
        receipt = await timed(submits, lambda: engine.submit(doc, by="benchmark"))
        arrived += 1
        assert receipt.state.value == "UNDER_REVIEW", receipt
        for reviewer in REVIEWERS:
            request = Approve(reviewer=reviewer)
            async with desk:
                await asyncio.sleep(review_s)
                phase = "submitting" if arrived < len(docs) else "rendering"
                await timed(approves_by_phase[phase], lambda: engine.approve(round_id, doc.partner, request))  # noqa: B023

    await asyncio.gather(*(one(i, d) for i, d in enumerate(docs)))
    handle = engine.client.get_workflow_handle_for(RoundWorkflow.run, round_workflow_id(round_id))
    status = await handle.result()
    wall = time.perf_counter() - start
    issued = sum(o.state.value == "LETTER_ISSUED" for o in status.outcomes)
    assert issued == len(docs), f"only {issued} of {len(docs)} letters issued"
    cpu = {name: cpu_seconds(p) - cpu0[name] for name, p in procs.items()}
    main = cpu_seconds(procs["worker"], children=False) - main0
    return {
        "offers": len(docs),
        "reviewers_at_once": reviewers,
        "submits_per_s": submit_rate,
        "wall_s": wall,
        "offers_per_s": len(docs) / wall,
        "worker_cpu_s": cpu["worker"],
        "worker_main_cpu_s": main,
        "render_pool_cpu_s": cpu["worker"] - main,
        "server_cpu_s": cpu["server"],
        "submit_latency": percentiles(submits),
        "review_s": review_s,
        "approve_latency": percentiles(approves_by_phase["submitting"] + approves_by_phase["rendering"]),
        "approve_latency_while_submitting": percentiles(approves_by_phase["submitting"]),
        "approve_latency_while_rendering": percentiles(approves_by_phase["rendering"]),
    }


# ---- 2: the same work without Temporal ------------------------------------------------------------


async def without_temporal(
    docs: list[OfferDocument], refs: list[PartnerReference], store: ObjectStore
) -> dict[str, Any]:
    """Validation, landing zone, rendering and storing, called directly, with the worker's kind of render pool."""
    policy = load_policy()
    by_code = {p.code: p for p in refs}
    pool = make_render_pool()
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(pool, _noop) for _ in range(render_processes())))  # spawned, warm
    me = psutil.Process()
    cpu0, start = cpu_seconds(me), time.perf_counter()

    async def one(doc: OfferDocument) -> None:
        letter = letter_input(doc, by_code[doc.partner], policy)
        assert letter.report.clean
        pdf, _ = await loop.run_in_executor(pool, render_letter_pdf, letter)
        await asyncio.to_thread(store.put, Kind.LETTER, pdf)

    try:
        await asyncio.gather(*(one(d) for d in docs))
        wall, cpu = time.perf_counter() - start, cpu_seconds(me) - cpu0
    finally:
        pool.shutdown()
    return {"offers": len(docs), "wall_s": wall, "offers_per_s": len(docs) / wall, "cpu_s": cpu}


def _noop() -> None:
    pass


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


def _plain_text_floor(pages: int) -> float:
    """The least WeasyPrint takes for plain paragraphs filling `pages` pages: what any text that long costs."""
    import weasyprint

    def pages_of(count: int) -> int:
        return len(weasyprint.HTML(string=PARAGRAPH * count).render().pages)

    count = max(1, (pages - 1) * 20 // pages_of(20) + 1)
    while pages_of(count) < pages:
        count += 1
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        weasyprint.HTML(string=PARAGRAPH * count).write_pdf()
        best = min(best, time.perf_counter() - start)
    return best


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
    cores = os.cpu_count() or 1
    partner = partners(1)[0]
    pool = make_render_pool()
    loop = asyncio.get_running_loop()
    out: dict[str, Any] = {"cores": cores, "floor_one_line_s": await loop.run_in_executor(pool, _one_line_floor)}
    try:
        for label, lines in sizes.items():
            letter = letter_for(lines, partner)
            single = [await loop.run_in_executor(pool, _render_timed, letter) for _ in range(3)]
            best, pages = min(t for t, _ in single), single[0][1]
            start = time.perf_counter()
            await asyncio.gather(*(loop.run_in_executor(pool, _render_timed, letter) for _ in range(letters_each)))
            wall = time.perf_counter() - start
            plain = await loop.run_in_executor(pool, _plain_text_floor, pages)
            out[label] = {
                "tariff_lines": lines,
                "pages": pages,
                "best_single_s": best,
                "letters_per_s_per_core": letters_each / wall / cores,
                "times_floor": best / out["floor_one_line_s"],
                "plain_text_same_pages_s": plain,
                "times_plain_text": best / plain,
            }
    finally:
        pool.shutdown()
    return out


# ---- 5: many offers open at once -------------------------------------------------------------------


async def scale(engine: Engine, total: int, worker: psutil.Process) -> dict[str, Any]:
    """`total` offers submitted and waiting in their review windows; memory and a listing by state."""
    per_round = 600
    rounds: list[str] = []
    left, start = total, time.perf_counter()
    semaphore = asyncio.Semaphore(64)

    async def submit(doc: OfferDocument) -> None:
        async with semaphore:
            await engine.submit(doc, by="benchmark")

    while left > 0:
        count = min(per_round, left)
        rid = f"bench-open-{len(rounds)}-{int(time.time())}"
        refs = partners(count, salt=rid)
        await engine.open_round(bench_round(rid, refs, deadline_in=timedelta(hours=2), review=timedelta(days=3)))
        docs = [sample_offer(rid, p.code, lines=20, seed=i) for i, p in enumerate(refs)]
        await asyncio.gather(*(submit(d) for d in docs))
        rounds.append(rid)
        left -= count
    opened = time.perf_counter() - start
    listed: list[Any] = []
    for _ in range(600):  # visibility catches up a moment behind
        begin = time.perf_counter()
        listed = [o for o in await engine.list_offers(state="UNDER_REVIEW") if o.round_id in rounds]
        list_s = time.perf_counter() - begin
        if len(listed) >= total:
            break
        await asyncio.sleep(0.5)
    return {
        "open_offers": total,
        "submitted_in_s": opened,
        "listed": len(listed),
        "list_by_state_s": list_s,
        "worker_rss_mib": worker.memory_info().rss / 2**20,
        "worker_and_pool_rss_mib": sum(p.memory_info().rss for p in [worker, *worker.children(recursive=True)]) / 2**20,
    }


# ---- the run ---------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="offerdesk-bench-"))
    port = args.port
    server = DevServer(home, port, port + 1000)
    server.start()
    assert server.process is not None
    settings = Settings.from_env({"OFFERDESK_HOME": str(home), "TEMPORAL_ADDRESS": f"127.0.0.1:{port}"})
    ensure_keyring(settings.keys_file)  # the worker process finds it under the same home
    worker = subprocess.Popen(
        [OFFERDESK, "worker"],
        env={
            **os.environ,
            "OFFERDESK_HOME": str(home),
            "OFFERDESK_KEYS_FILE": str(settings.keys_file),
            "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        },
        stdout=subprocess.DEVNULL,
    )
    try:
        engine = await Engine.from_settings(settings)
        procs = {"worker": psutil.Process(worker.pid), "server": psutil.Process(server.process.pid)}
        await asyncio.sleep(2)  # the worker connects and spawns its render pool
        refs = partners(args.partners)
        console.print(f"[bold]1.[/] a round of {args.partners} partners through Temporal …")
        round_id = f"bench-{int(time.time())}"
        docs = offers(round_id, refs)
        temporal = await through_temporal(
            engine, docs, refs, round_id, procs, args.reviewers, args.submit_rate, args.review_s
        )
        console.print("[bold]2.[/] the same work without Temporal …")
        direct = await without_temporal(docs, refs, FolderStore(home / "direct-letters"))
        console.print("[bold]4.[/] letter rendering alone …")
        render = await rendering(args.letters, {"3_pages": args.lines_3, "15_pages": args.lines_15})
        console.print(f"[bold]5.[/] {args.open_offers} offers open at once …")
        scaled = await scale(engine, args.open_offers, procs["worker"])
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        server.stop()
        shutil.rmtree(home, ignore_errors=True)  # the server's database grows to some 200 MB at 5,000 offers
    return {
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "round": temporal,
        "without_temporal": direct,
        "durability_ratio": temporal["offers_per_s"] / direct["offers_per_s"],
        "rendering": render,
        "scale": scaled,
    }


def report(results: dict[str, Any]) -> Table:
    r, d, lz, s = results["round"], results["without_temporal"], results["rendering"], results["scale"]
    table = Table(title="Offerdesk round benchmark", show_lines=False)
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("goal")

    def ok(good: bool) -> str:
        return "[green]met[/]" if good else "[red]missed[/]"

    table.add_row("1. round wall time", f"{r['wall_s']:.1f} s for {r['offers']} offers", "")
    table.add_row("   offers per second, end to end", f"{r['offers_per_s']:.2f}", "")
    table.add_row(
        "   CPU: worker (its render pool) / server",
        f"{r['worker_cpu_s']:.1f} s ({r['render_pool_cpu_s']:.1f} s) / {r['server_cpu_s']:.1f} s",
        "",
    )
    table.add_row("2. without Temporal, offers per second", f"{d['offers_per_s']:.2f} ({d['cpu_s']:.1f} s CPU)", "")
    ratio = results["durability_ratio"]
    table.add_row("   durability ratio (1) / (2)", f"{ratio:.2f}", f"≥ 0.8 {ok(ratio >= 0.8)}")
    for name in ("submit", "approve"):
        lat = r[f"{name}_latency"]
        goal = f"p99 < 100 ms {ok(lat['p99_ms'] < 100)}" if name == "approve" else ""
        table.add_row(
            f"3. {name} update p50 / p95 / p99"
            + (
                f" ({r['reviewers_at_once']} reviewers, {r['review_s']:g} s to read each)"
                if name == "approve"
                else f" ({r['submits_per_s']:g} a second)"
            ),
            f"{lat['p50_ms']:.0f} / {lat['p95_ms']:.0f} / {lat['p99_ms']:.0f} ms",
            goal,
        )
    for phase, when in (("submitting", "while offers still arrive"), ("rendering", "once only letters render")):
        lat = r[f"approve_latency_while_{phase}"]
        figure = f"{lat['p50_ms']:.0f} / {lat['p95_ms']:.0f} / {lat['p99_ms']:.0f} ms ({lat['n']})" if lat else "none"
        table.add_row(f"   approve, {when}", figure, "")
    table.add_row("4. one-line WeasyPrint floor", f"{lz['floor_one_line_s'] * 1000:.0f} ms", "")
    for label in ("3_pages", "15_pages"):
        x = lz[label]
        goal = f"≤ 3× floor {ok(x['times_floor'] <= 3)}" if label == "3_pages" else ""
        table.add_row(
            f"   {x['pages']}-page letter ({x['tariff_lines']} lines)",
            f"{x['best_single_s'] * 1000:.0f} ms = {x['times_floor']:.1f}× floor; "
            f"{x['letters_per_s_per_core']:.2f} letters/s/core",
            goal,
        )
        table.add_row(
            f"   plain paragraphs, {x['pages']} pages",
            f"{x['plain_text_same_pages_s'] * 1000:.0f} ms; the letter takes {x['times_plain_text']:.1f}× that",
            "",
        )
    table.add_row(
        f"5. {s['open_offers']} open offers: worker RSS",
        f"{s['worker_rss_mib']:.0f} MiB (with render pool {s['worker_and_pool_rss_mib']:.0f} MiB)",
        f"< 1 GiB {ok(s['worker_rss_mib'] < 1024)}",
    )
    table.add_row("   submitted (64 at a time)", f"{s['submitted_in_s']:.0f} s", "")
    table.add_row("   list them by state (visibility)", f"{s['list_by_state_s'] * 1000:.0f} ms for {s['listed']}", "")
    return table


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, default=75, help="partners in the round (default 75)")
    parser.add_argument("--submit-rate", type=float, default=10, help="offers submitted per second in the round")
    parser.add_argument("--reviewers", type=int, default=4, help="reviewers approving at the same moment")
    parser.add_argument("--review-s", type=float, default=0.5, help="seconds a reviewer reads an offer first")
    parser.add_argument("--open-offers", type=int, default=5000, help="offers open at once for the scale test")
    parser.add_argument("--letters", type=int, default=12, help="letters rendered per size in the rendering test")
    parser.add_argument("--lines-3", type=int, default=30, help="tariff lines of the '3-page' letter")
    parser.add_argument("--lines-15", type=int, default=600, help="tariff lines of the '15-page' letter")
    parser.add_argument("--port", type=int, default=7633, help="port of the benchmark's own dev server")
    parser.add_argument("--output", type=Path, default=ROOT / "results.json")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args))
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    console.print(report(results))
    console.print(f"Results written to {args.output}")
    return results


if __name__ == "__main__":
    main()
