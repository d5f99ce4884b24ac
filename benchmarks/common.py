"""What every part of the benchmark shares: partners and offers to submit, letters to render, percentiles, CPU,
timing."""

from __future__ import annotations

import asyncio
import random
import statistics
import string
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console

from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from offers.landing_zone import propose_landing_zone
from offers.reference import LandingZonePolicy, load_partners
from offers.validation import validate_offer
from schemas.landing import AgreedTerms, Approval
from schemas.letter import LetterInput
from schemas.listing import OfferListing
from schemas.offer import OfferDocument
from schemas.partner import PartnerReference
from schemas.round import RoundSpec

ROOT = Path(__file__).resolve().parent
OFFERDESK = str(Path(sys.executable).parent / "offerdesk")
REVIEWERS = ("Bench Reviewer One", "Bench Reviewer Two")
console = Console()


def partners(count: int, salt: str = "") -> list[PartnerReference]:
    """`count` partners: the real reference rows, then copies of them under unused two-letter codes."""
    real = list(load_partners().values())
    taken = {p.code for p in real}
    spare = [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase if a + b not in taken]
    if count - len(real) > len(spare):
        raise ValueError(f"a round has at most {len(real) + len(spare)} partners (two-letter codes); not {count}")
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
    """p50 / p95 / p99 in milliseconds of samples in seconds, and their number; {} for none."""
    if not samples:
        return {}
    cuts = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 else [samples[0]] * 99
    return {"p50_ms": cuts[49] * 1000, "p95_ms": cuts[94] * 1000, "p99_ms": cuts[98] * 1000, "n": len(samples)}


def cpu_seconds(process: psutil.Process, children: bool = True, leave_out: Iterable[int] = ()) -> float:
    """CPU of a process and, unless told otherwise, all its children (the worker's render pool included).

    `leave_out` names children whose whole trees are not counted (the benchmark's own server, worker and portal
    processes, when the benchmark measures itself)."""
    skip: set[int] = set()
    for pid in leave_out:
        try:
            skip |= {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
        except psutil.NoSuchProcess:
            skip.add(pid)
    total = 0.0
    for p in [process, *(process.children(recursive=True) if children else [])]:
        if p.pid in skip:
            continue
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


async def submit_all(engine: Engine, docs: list[OfferDocument], at_once: int) -> None:
    """Submit every document through the engine, `at_once` at a time (setting up, not measured)."""
    semaphore = asyncio.Semaphore(at_once)

    async def submit(doc: OfferDocument) -> None:
        async with semaphore:
            await engine.submit(doc, by="benchmark")

    await asyncio.gather(*(submit(d) for d in docs))


async def listed_when(
    engine: Engine, ready: Callable[[list[OfferListing]], bool], round_id: str | None = None, timeout: float = 300
) -> list[OfferListing]:
    """Offers as visibility lists them, once `ready` says they have caught up (visibility lags a moment)."""
    give_up = time.monotonic() + timeout
    while True:
        found = await engine.list_offers(round_id=round_id)
        if ready(found) or time.monotonic() > give_up:
            return found
        await asyncio.sleep(0.5)


def approved_letter(
    doc: OfferDocument,
    partner: PartnerReference,
    policy: LandingZonePolicy,
    approvals: list[Approval],
    received: date,
    rate: float | None = None,
    rate_set_by: str = "the landing-zone policy",
    rate_reason: str = "the policy's proposal",
) -> LetterInput:
    """What the workflow hands the letter activity once `approvals` agree: the offer validated as of the day it was
    `received`, the policy's proposal, and the agreed rate (`rate`, or else the proposal), dated the last approval.

    The benchmark's letters and the letter tests' are built here."""
    zone = propose_landing_zone(doc, partner, policy)
    agreed_at = max(a.at for a in approvals)
    terms = AgreedTerms(
        landing_zone=zone,
        agreed_rate_pct=rate if rate is not None else zone.proposed_rate_pct,
        rate_set_by=rate_set_by,
        rate_reason=rate_reason,
        approvals=approvals,
        agreed_at=agreed_at,
    )
    return LetterInput(
        round_id=doc.round_id,
        partner=doc.partner,
        partner_name=partner.name,
        reference=f"OD/{doc.round_id}/{doc.partner}/v1",
        letter_date=agreed_at.date(),
        offer_version=1,
        offer=doc,
        report=validate_offer(doc, received),
        terms=terms,
    )


def letter_input(doc: OfferDocument, partner: PartnerReference, policy: LandingZonePolicy) -> LetterInput:
    """A letter as the benchmark renders it: received today, approved now by its reviewers at the policy's rate."""
    now = datetime.now(UTC)
    return approved_letter(doc, partner, policy, [Approval(reviewer=r, at=now) for r in REVIEWERS], now.date())


def abba(batches: int, pipelines: tuple[str, ...] = ("temporal", "direct")) -> list[tuple[int, str]]:
    """The order the pipelines run their batches in: T D, D T, T D, … (batch, pipeline); with the observed
    pipeline too, T D O, O D T, …

    With an even number of batches, a drift of the machine's speed that is linear in time weighs the same on
    every pipeline's sum: with two batches, T₁ D₁ D₂ T₂."""
    order: list[tuple[int, str]] = []
    for k in range(batches):
        each = list(pipelines) if k % 2 == 0 else list(reversed(pipelines))
        order += [(k, which) for which in each]
    return order
