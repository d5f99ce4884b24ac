"""Part 7's second half (issue 22): the portal with its people's records on PostgreSQL beside the same portal on
the embedded SQLite file, against the same Temporal and round, with the same requests, interleaved.

The benchmark starts a PostgreSQL of its own (benchmarks/postgres.py, as the tests do) with PostgreSQL's own
durable defaults (every commit flushed, as SQLite's is), makes the schema as `offerdesk db upgrade` does, and runs a
second `offerdesk portal` with OFFERDESK_DATABASE_URL pointing at it. A machine without PostgreSQL skips this half
and says so in results.json.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil

from benchmarks.common import console, cpu_seconds, percentiles
from benchmarks.portal import OpenRound, PortalProcess, timed_get
from benchmarks.postgres import NoPostgres, Postgres
from offerdesk.config import Settings
from offerdesk.people.db import close
from offerdesk.people.migrate import upgrade
from schemas.portal import Role

KINDS = ("sign_in", "dashboard_page", "offer_page")
DATABASES = ("sqlite", "postgresql")


def order(repeats: int) -> list[str]:
    """The databases in turn, A B B A A B B A …: a drift of the machine's speed that is linear in time weighs the
    same on both (with an even number of `repeats`)."""
    pairs = [DATABASES if k % 2 == 0 else DATABASES[::-1] for k in range(repeats)]
    return [which for pair in pairs for which in pair]


def worst_ratio(by_database: dict[str, dict[str, dict[str, float]]]) -> tuple[str, float] | None:
    """The kind of request whose p99 on PostgreSQL is the largest multiple of its p99 on SQLite, and that
    multiple; None if a kind has no samples."""
    ratios = {}
    for kind in KINDS:
        pg, lite = by_database["postgresql"].get(kind, {}), by_database["sqlite"].get(kind, {})
        if not pg or not lite:
            return None
        ratios[kind] = pg["p99_ms"] / lite["p99_ms"]
    kind = max(ratios, key=lambda k: ratios[k])
    return kind, ratios[kind]


async def one_visit(portal: PortalProcess, name: str, board: OpenRound, partner: str) -> dict[str, float]:
    """A person signs in through the form (the form's page and its post), opens the round's staff dashboard page,
    then an offer's page: each timed."""
    start = time.perf_counter()
    browser = await portal.browser(name)  # already used to sign in: closed below, never entered
    signed_in = time.perf_counter() - start
    try:
        rid = board.round_id
        dashboard = await timed_get(browser, f"/rounds/{rid}", board.partners[-1])
        offer = await timed_get(browser, f"/rounds/{rid}/offers/{partner}", partner)
    finally:
        await browser.aclose()
    return {"sign_in": signed_in, "dashboard_page": dashboard, "offer_page": offer}


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """A PostgreSQL of the benchmark's own, durable as production's; NoPostgres if the machine has none."""
    server = Postgres()
    try:
        server.start(durable=True)
        yield server
    finally:
        server.remove()


def _server_processes(server: Postgres) -> psutil.Process:
    return psutil.Process(int((server.data / "postmaster.pid").read_text().split()[0]))


async def compare_databases(
    env: dict[str, str], settings: Settings, sqlite: PortalProcess, board: OpenRound, repeats: int
) -> dict[str, Any]:
    """`repeats` visits (sign-in, dashboard page, offer page) to each portal, one at a time, A B B A …; p99 per
    kind and database, and `postgres_over_sqlite_p99`: the worst kind's ratio of p99s (PostgreSQL over SQLite)."""
    try:
        with postgres_server() as server:
            url = server.new_database(migrated=False)
            await asyncio.to_thread(upgrade, url)  # what `offerdesk db upgrade` does
            postgres = await PortalProcess.start(env, settings, database=url)
            try:
                return await _compare({"sqlite": sqlite, "postgresql": postgres}, server, board, repeats)
            finally:
                await postgres.stop()
                close(url)  # this process's own connections (its users and tokens), before the server stops
    except NoPostgres as e:
        console.print(f"   [yellow]skipped[/]: {e}; portal.postgres_over_sqlite_p99 is not measured")
        return {"databases": {"skipped": str(e)}}


async def _compare(
    portals: dict[str, PortalProcess], server: Postgres, board: OpenRound, repeats: int
) -> dict[str, Any]:
    names = {which: portal.user(Role.STAFF)[0] for which, portal in portals.items()}
    partners = board.submitted
    for which, portal in portals.items():  # each portal's first page and first sign-in, not measured
        await one_visit(portal, names[which], board, partners[0])
    samples: dict[str, dict[str, list[float]]] = {which: {kind: [] for kind in KINDS} for which in DATABASES}
    procs = {f"portal_{which}": psutil.Process(portal.pid) for which, portal in portals.items()}
    procs["postgresql_server"] = _server_processes(server)
    cpu0 = {name: cpu_seconds(p) for name, p in procs.items()}
    start = time.perf_counter()
    for i, which in enumerate(order(repeats)):
        visit = await one_visit(portals[which], names[which], board, partners[(i // 2) % len(partners)])
        for kind, seconds in visit.items():
            samples[which][kind].append(seconds)
    wall = time.perf_counter() - start
    cpu = {name: cpu_seconds(p) - cpu0[name] for name, p in procs.items()}
    by_database = {which: {kind: percentiles(s) for kind, s in samples[which].items()} for which in DATABASES}
    everything = {which: percentiles([t for s in samples[which].values() for t in s]) for which in DATABASES}
    worst = worst_ratio(by_database)
    return {
        "databases": {
            "visits_each": repeats,
            "order": "A B B A … (A SQLite, B PostgreSQL), one visit at a time",
            "seconds": wall,
            **by_database,
            "overall": everything,
            "p99_ratio_by_kind": {
                kind: by_database["postgresql"][kind]["p99_ms"] / by_database["sqlite"][kind]["p99_ms"]
                for kind in KINDS
                if by_database["postgresql"][kind] and by_database["sqlite"][kind]
            },
            "overall_p99_ratio": everything["postgresql"]["p99_ms"] / everything["sqlite"]["p99_ms"],
            "worst_kind": worst[0] if worst else None,
            "cpu_s": cpu,
            "postgresql_settings": "PostgreSQL's defaults (fsync, synchronous_commit on); SQLite in WAL mode",
        },
        "postgres_over_sqlite_p99": worst[1] if worst else None,
    }
