"""The parts people wait on in front of a screen: a 600-partner round's status and dashboard, and the portal
under 20 API clients at once and under one. Both go to real processes: the `offerdesk` CLI and an `offerdesk portal`
(portal_databases.py runs a second portal on PostgreSQL beside it)."""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.common import OFFERDESK, bench_round, cpu_seconds, listed_when, partners, percentiles, submit_all
from offerdesk.config import Settings
from offerdesk.devserver import free_port
from offerdesk.engine import Engine
from offerdesk.people import People, open_people
from offerdesk.samples import sample_offer
from offers.reference import load_partners
from schemas.listing import OfferListing
from schemas.portal import Role

PASSWORD = "bench horse battery staple"


# ---- the round they look at ------------------------------------------------------------------


@dataclass(frozen=True)
class OpenRound:
    """A round of many partners, some of them submitted and under review (the rest still invited)."""

    round_id: str
    partners: list[str]
    submitted: list[str]
    setup_s: float


async def open_round_with_offers(engine: Engine, size: int, submitted: int, at_once: int) -> OpenRound:
    """Open a round of `size` partners and submit `submitted` of their offers; wait until visibility shows them."""
    round_id = f"bench-dash-{int(time.time())}"
    refs = partners(size, salt=round_id)
    start = time.perf_counter()
    await engine.open_round(bench_round(round_id, refs, deadline_in=timedelta(hours=3), review=timedelta(days=3)))
    chosen = refs[: min(submitted, size)]
    await submit_all(engine, [sample_offer(round_id, p.code, lines=20, seed=i) for i, p in enumerate(chosen)], at_once)

    def caught_up(found: list[OfferListing]) -> bool:
        return len(found) >= size and sum(o.state == "UNDER_REVIEW" for o in found) >= len(chosen)

    await listed_when(engine, caught_up, round_id)
    return OpenRound(round_id, [p.code for p in refs], [p.code for p in chosen], time.perf_counter() - start)


# ---- the portal process -------------------------------------------------------------------------


async def portal_answering(url: str, process: asyncio.subprocess.Process, within_s: float) -> None:
    """Wait until a portal process started at `url` serves its OpenAPI document; a sentence if it exits first."""
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(int(within_s * 10)):
            try:
                if (await client.get("/openapi.json")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if process.returncode is not None:
                raise RuntimeError(f"the portal exited with {process.returncode}")
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the portal did not answer within {within_s:.0f} s")


@dataclass
class PortalProcess:
    """A real `offerdesk portal` against the benchmark's server, with users and API tokens made for it."""

    url: str
    process: asyncio.subprocess.Process
    people: People
    tokens: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def start(cls, env: dict[str, str], settings: Settings, database: str | None = None) -> PortalProcess:
        """Start it with the people's records in `database` (a URL; by default the installation's SQLite file)."""
        database = database or settings.database
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            OFFERDESK,
            "portal",
            "--port",
            str(port),
            env={**env, "OFFERDESK_DATABASE_URL": database},
            stdout=asyncio.subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        await portal_answering(url, process, within_s=120)
        return cls(url, process, open_people(database))

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    def user(self, role: Role, partner: str | None = None) -> tuple[str, str]:
        """A new user of `role` with an API token: (name, token)."""
        name = f"bench-{role.value[:3]}-{uuid.uuid4().hex[:8]}"
        self.people.users.add(name, role, PASSWORD, partner)
        return name, self.people.tokens.create(name, "benchmark", "benchmark").token

    def api(self, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=120)

    async def browser(self, name: str) -> httpx.AsyncClient:
        """Signed in through the form, as a browser is; the session cookie is passed on by hand (it is Secure)."""
        client = httpx.AsyncClient(base_url=self.url, timeout=120)
        page = await client.get("/signin")
        csrf = page.cookies["offerdesk_signin_csrf"]
        answer = await client.post(
            "/signin",
            data={"name": name, "password": PASSWORD, "csrf": csrf, "next": "/"},
            headers={"Cookie": f"offerdesk_signin_csrf={csrf}"},
        )
        if answer.status_code != 303:
            raise RuntimeError(f"signing in to the portal failed: {answer.status_code} {answer.text[:300]}")
        jar: SimpleCookie = SimpleCookie()
        for header in answer.headers.get_list("set-cookie"):
            jar.load(header)
        client.cookies.clear()
        client.headers["Cookie"] = f"offerdesk_session={jar['offerdesk_session'].value}"
        return client


# ---- dashboard: `round status` and the staff dashboard -----------------------------------------------


async def _cli(env: dict[str, str], *args: str, shows: str) -> float:
    """The wall time of one `offerdesk ARGS` as a subprocess, interpreter start included; it must succeed and print
    `shows`."""
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        OFFERDESK, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    wall = time.perf_counter() - start
    if process.returncode != 0 or shows not in out.decode():
        raise RuntimeError(f"'offerdesk {' '.join(args)}' failed ({process.returncode}): {err.decode()[-2000:]}")
    return wall


async def timed_get(client: httpx.AsyncClient, path: str, check: str) -> float:
    """The seconds a GET took; an answer that is not 200 with `check` in it stops the benchmark."""
    start = time.perf_counter()
    answer = await client.get(path)
    wall = time.perf_counter() - start
    if answer.status_code != 200 or check not in answer.text:
        raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
    return wall


async def dashboard(
    env: dict[str, str], portal: PortalProcess, board: OpenRound, repeats: int, procs: dict[str, psutil.Process]
) -> dict[str, Any]:
    """`offerdesk round status` and the staff dashboard (the page and its API), each `repeats` times one after
    another on a quiet machine; the first request to the portal is reported apart (its first render). Each
    `round status` is followed by an `offerdesk --help`, the CLI's own start."""
    rid = board.round_id
    staff, token = portal.user(Role.STAFF)
    portal.tokens["staff"] = token
    # `round status` against the CLI's own start (`offerdesk --help`, which lists every command), in turn, so that
    # a busy moment weighs on both (issue 26).
    cli: list[float] = []
    start: list[float] = []
    for _ in range(repeats):
        cli.append(await _cli(env, "round", "status", rid, shows=rid))
        start.append(await _cli(env, "--help", shows="round"))
    browser = await portal.browser(staff)  # already used to sign in: closed below, never entered
    try:
        async with portal.api(token) as api:
            page_first = await timed_get(browser, f"/rounds/{rid}", board.partners[-1])
            api_first = await timed_get(api, f"/api/rounds/{rid}", board.partners[-1])
            cpu0 = {name: cpu_seconds(procs[name]) for name in ("portal", "server")}
            page = [await timed_get(browser, f"/rounds/{rid}", board.partners[-1]) for _ in range(repeats)]
            api_times = [await timed_get(api, f"/api/rounds/{rid}", board.partners[-1]) for _ in range(repeats)]
            per_view = {
                f"{name}_cpu_s_per_dashboard": (cpu_seconds(procs[name]) - cpu0[name]) / (2 * repeats) for name in cpu0
            }
            shown = len((await api.get(f"/api/rounds/{rid}")).json()["offers"])
    finally:
        await browser.aclose()
    cli_s, page_s, api_s = statistics.median(cli), statistics.median(page), statistics.median(api_times)
    start_s = statistics.median(start)
    staff_s = max(page_s, api_s)  # the page, and the same figures as a program reads them
    return {
        "round_id": rid,
        "partners": len(board.partners),
        "submitted": len(board.submitted),
        "offers_shown": shown,
        "setup_s": board.setup_s,
        "repeats": repeats,
        "round_status_cli_s": cli_s,
        "round_status_cli_runs_s": cli,
        "cli_start_s": start_s,
        "cli_start_runs_s": start,
        "cli_600_over_cli_start": cli_s / start_s,
        "staff_page_s": page_s,
        "staff_page_first_s": page_first,
        "staff_api_s": api_s,
        "staff_api_first_s": api_first,
        **per_view,
        "staff_dashboard_s": staff_s,
        "dashboard_600_s": max(cli_s, staff_s),
    }


# ---- the portal under concurrent API clients, and under one -----------------------------------------


@dataclass
class Mix:
    """What one run of the mixed requests saw: latencies (seconds) by kind, errors, and its wall time."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"dashboard": [], "offer": [], "comment": []})
    errors: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0

    def add(self, other: Mix) -> Mix:
        for kind, samples in other.latencies.items():
            self.latencies[kind] += samples
        self.errors += other.errors
        self.wall += other.wall
        return self

    def figures(self) -> dict[str, Any]:
        everything = [t for samples in self.latencies.values() for t in samples]
        return {
            "seconds": self.wall,
            "requests": len(everything),
            "requests_per_s": len(everything) / self.wall if self.wall else 0.0,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors.most_common(5)),
            "latency": percentiles(everything),
            "by_kind": {kind: percentiles(samples) for kind, samples in self.latencies.items()},
        }


@dataclass(frozen=True)
class Callers:
    """The API tokens the mixed requests are sent with: staff, four reviewers, negotiators of known partners."""

    staff: str
    reviewers: list[str]
    negotiators: dict[str, str]

    @classmethod
    def make(cls, portal: PortalProcess, board: OpenRound) -> Callers:
        if "staff" not in portal.tokens:
            portal.tokens["staff"] = portal.user(Role.STAFF)[1]
        known = load_partners()
        readable = [p for p in board.submitted if p in known][:10]  # a negotiator speaks for a partner Offerdesk knows
        return cls(
            portal.tokens["staff"],
            [portal.user(Role.REVIEWER)[1] for _ in range(4)],
            {p: portal.user(Role.NEGOTIATOR, p)[1] for p in readable},
        )


async def mixed_requests(
    portal: PortalProcess, board: OpenRound, callers: Callers, clients: int, seconds: float, seed: int = 0
) -> Mix:
    """`clients` API clients, each sending its next request as soon as the last is answered, for `seconds`
    (requests in flight then are waited for). In every four requests of a client: a dashboard read (staff), two
    reads of a submitted offer (a reviewer, staff or the partner's own negotiator), a comment on one (a reviewer)."""
    rid = board.round_id
    mix = Mix()
    staff, reviewers, negotiators = callers.staff, callers.reviewers, callers.negotiators
    stop_at = time.perf_counter() + seconds

    async def one_client(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        kinds: list[str] = []
        async with httpx.AsyncClient(base_url=portal.url, timeout=120) as http:
            n = 0
            while time.perf_counter() < stop_at:
                if not kinds:  # each four requests: a dashboard, two offer reads and a comment, in a random order
                    kinds = rng.sample(["dashboard", "offer", "offer", "comment"], 4)
                kind = kinds.pop()
                n += 1
                partner = rng.choice(board.submitted)
                if kind == "dashboard":
                    method, path, token, body = "GET", f"/api/rounds/{rid}", staff, None
                elif kind == "offer":
                    who = rng.choice(["reviewer", "staff", "negotiator"])
                    if who == "negotiator" and negotiators:
                        partner = rng.choice(list(negotiators))
                        token = negotiators[partner]
                    else:
                        token = staff if who == "staff" else rng.choice(reviewers)
                    method, path, body = "GET", f"/api/rounds/{rid}/offers/{partner}", None
                else:
                    text = f"Benchmark note {seed}-{i}-{n}: the staging on line {rng.randint(1, 20)} needs a look."
                    method, path = "POST", f"/api/rounds/{rid}/offers/{partner}/comments"
                    token, body = rng.choice(reviewers), {"text": text}
                start = time.perf_counter()
                try:
                    answer = await http.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
                    if answer.status_code >= 400:
                        mix.errors[f"{kind}: {answer.status_code} {answer.text[:120]}"] += 1
                except httpx.HTTPError as e:
                    mix.errors[f"{kind}: {type(e).__name__}"] += 1
                mix.latencies[kind].append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(one_client(i) for i in range(clients)))
    mix.wall = time.perf_counter() - start
    return mix


async def portal_load(
    portal: PortalProcess, board: OpenRound, clients: int, seconds: float, procs: dict[str, psutil.Process]
) -> dict[str, Any]:
    """The mixed requests from `clients` API clients at once for `seconds`, and from one client alone for as long,
    half before and half after (1 N 1, so that a drift of the machine's speed weighs on both alike).

    `p99_20_over_p99_1` is the p99 of all requests at once over the p99 of those one client sent alone."""
    callers = Callers.make(portal, board)
    alone = await mixed_requests(portal, board, callers, 1, seconds / 2, seed=1)
    cpu0 = {name: cpu_seconds(p) for name, p in procs.items()}
    many = await mixed_requests(portal, board, callers, clients, seconds, seed=2)
    cpu = {name: cpu_seconds(p) - cpu0[name] for name, p in procs.items()}
    alone.add(await mixed_requests(portal, board, callers, 1, seconds / 2, seed=3))
    at_once, one = many.figures(), alone.figures()
    p99_many, p99_one = at_once["latency"].get("p99_ms"), one["latency"].get("p99_ms")
    return {
        "round_id": board.round_id,
        "clients": clients,
        **at_once,
        "p99_ms_20_concurrent": at_once["latency"].get("p99_ms"),
        "cpu_s": cpu,
        "one_client": one,
        "order": f"1 {clients} 1",
        "p99_20_over_p99_1": p99_many / p99_one if p99_many and p99_one else None,
    }


def portal_env(home: Path, settings: Settings, address: str) -> dict[str, str]:
    """The environment the benchmark's CLI, worker and portal processes run with: its home, keyring, signing
    identity and server."""
    return {
        **os.environ,
        "OFFERDESK_HOME": str(home),
        "OFFERDESK_KEYS_FILE": str(settings.keys_file),
        "OFFERDESK_DATABASE_URL": settings.database,
        "OFFERDESK_SIGNING_KEY": settings.signing_key,
        "OFFERDESK_SIGNING_PASSPHRASE_FILE": str(settings.signing_passphrase_file),
        "TEMPORAL_ADDRESS": address,
        "COLUMNS": "120",
    }
