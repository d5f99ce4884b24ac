"""Part 8 of the benchmark: many offers open at once, the worker's memory and a listing by state."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import psutil

from benchmarks.common import bench_round, cpu_seconds, listed_when, partners, submit_all
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.listing import OfferListing
from schemas.offer_state import OfferState


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
