"""One full national tariff schedule (15,000 lines, over 2 MB): its submission and its letter."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import psutil

from benchmarks.common import REVIEWERS, bench_round, cpu_seconds, partners
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.document_ref import canonical_bytes
from schemas.offer_state import OfferState
from schemas.review import Approve


async def full_schedule(engine: Engine, lines: int, procs: dict[str, psutil.Process]) -> dict[str, Any]:
    """Submit one offer of `lines` tariff lines through the engine (which stores the document first) and time it
    from the call to the state UNDER_REVIEW; then approve it and time its letter, from the approval that
    completes the quorum to LETTER_ISSUED. Both states are read as callers read them (Engine.wait_for)."""
    round_id = f"bench-full-{int(time.time())}"
    partner = partners(1, salt=round_id)[0]
    await engine.open_round(bench_round(round_id, [partner], deadline_in=timedelta(hours=1), review=timedelta(hours=1)))
    doc = sample_offer(round_id, partner.code, lines=lines, seed=15)
    size = len(canonical_bytes(doc))
    wait = timedelta(minutes=15)

    cpu0 = {name: cpu_seconds(p) for name, p in procs.items()}
    start = time.perf_counter()
    receipt = await engine.submit(doc, by="benchmark")
    answered = time.perf_counter() - start
    await engine.wait_for(round_id, partner.code, {OfferState.UNDER_REVIEW}, timeout=wait)
    submit_s = time.perf_counter() - start
    cpu1 = {name: cpu_seconds(p) for name, p in procs.items()}

    begin = time.perf_counter()
    await engine.approve(round_id, partner.code, Approve(reviewer=REVIEWERS[0], version=receipt.version))
    first_approval = time.perf_counter() - begin
    start = time.perf_counter()
    await engine.approve(round_id, partner.code, Approve(reviewer=REVIEWERS[1], version=receipt.version))
    quorum_approval = time.perf_counter() - start
    card = await engine.wait_for(round_id, partner.code, {OfferState.LETTER_ISSUED}, timeout=wait)
    letter_s = time.perf_counter() - start
    cpu2 = {name: cpu_seconds(p) for name, p in procs.items()}
    return {
        "tariff_lines": lines,
        "document_bytes": size,
        "submit_state": receipt.state.value,
        "submit_s": submit_s,
        "submit_call_s": answered,
        "first_approval_s": first_approval,
        "quorum_approval_s": quorum_approval,
        "letter_s": letter_s,
        "letter_pages": card.letter.pages if card.letter else None,
        "letter_bytes": card.letter.size if card.letter else None,
        "cpu_s_submit": {name: cpu1[name] - cpu0[name] for name in procs},
        "cpu_s_letter": {name: cpu2[name] - cpu1[name] for name in procs},
    }
