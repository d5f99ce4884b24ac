"""The demo: a round of a few partners with sample offers, two reviewers, and letters left on disk."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from offerdesk.engine import Engine
from offerdesk.people.users import Users
from offerdesk.samples import sample_offer
from offers.reference import partner_references
from schemas.offer_state import OfferState
from schemas.portal import Role
from schemas.review import Approve, RequestChanges
from schemas.round import RoundSpec

DEMO_PARTNERS = ["JP", "EU", "VN", "IN"]
PORTAL_PARTNER = "KR"
"""Invited but left alone by the demo: the demo negotiator's to submit in the portal."""
REVIEWERS = ("Reviewer Ada", "Reviewer Grace")
DEMO_USERS: list[tuple[str, Role, str | None, str]] = [
    ("nadia", Role.NEGOTIATOR, PORTAL_PARTNER, "nadia-demo-pass"),
    ("ada", Role.REVIEWER, None, "ada-demo-pass"),
    ("grace", Role.REVIEWER, None, "grace-demo-pass"),
    ("sam", Role.STAFF, None, "sam-demo-pass"),
]
"""One user per role (two reviewers, as an offer needs two approvals), for trying the portal locally."""
STEPS = 4  # submitted, clean, approved, letter stored


async def _one_partner(engine: Engine, round_id: str, code: str, progress: Progress, task: TaskID) -> None:
    today = datetime.now(UTC).date()
    # VN first sends an offer missing two categories, then amends it; IN is sent back once by a reviewer.
    first = sample_offer(round_id, code, lines=12, seed=7, received=today, deficient=(code == "VN"))
    receipt = await engine.submit(first, by="demo")
    progress.update(task, advance=1, description=f"{code} {receipt.state.value}")
    if code == "VN":
        receipt = await engine.submit(
            sample_offer(round_id, code, lines=12, seed=7, received=today), amend=True, by="demo"
        )
        progress.update(task, description=f"{code} amended: {receipt.state.value}")
    if code == "IN":
        note = "Please add a staging plan for dairy lines."
        await engine.request_changes(
            round_id, code, RequestChanges(reviewer=REVIEWERS[0], version=receipt.version, note=note)
        )
        receipt = await engine.submit(
            sample_offer(round_id, code, lines=14, seed=8, received=today), amend=True, by="demo"
        )
        progress.update(task, description=f"{code} amended: {receipt.state.value}")
    progress.update(task, advance=1)
    card, _ = await engine.offer_card(round_id, code)
    zone = card.landing_zone
    assert zone is not None
    version = len(card.versions)  # the version the reviewers read: each decision names it
    if code == "EU":
        rate = max(zone.baseline_rate_pct, min(zone.announced_rate_pct, 15.0))
        why = "in line with the July framework"
        await engine.approve(round_id, code, Approve(reviewer=REVIEWERS[0], version=version, rate_pct=rate, reason=why))
    else:
        await engine.approve(round_id, code, Approve(reviewer=REVIEWERS[0], version=version))
    await engine.approve(round_id, code, Approve(reviewer=REVIEWERS[1], version=version))
    progress.update(task, advance=1, description=f"{code} APPROVED")
    await engine.wait_for(round_id, code, {OfferState.LETTER_ISSUED}, timeout=timedelta(minutes=5))
    progress.update(task, advance=1, description=f"{code} LETTER_ISSUED")


async def run_demo(engine: Engine, out_dir: Path, round_id: str, console: Console) -> list[Path]:
    """Open the demo round, drive every partner to a letter, and copy the letters to out_dir."""
    spec = RoundSpec(
        round_id=round_id,
        partners=partner_references([*DEMO_PARTNERS, PORTAL_PARTNER]),
        deadline=datetime.now(UTC) + timedelta(days=7),
        review_window=timedelta(days=3),
        approvals_required=2,
        opened_by="demo",
    )
    await engine.open_round(spec)
    console.print(f"Opened round [bold]{round_id}[/] for {', '.join(DEMO_PARTNERS)}.")
    with Progress(TextColumn("{task.description:<28}"), BarColumn(), console=console, transient=False) as progress:
        tasks = {code: progress.add_task(f"{code} INVITED", total=STEPS) for code in DEMO_PARTNERS}
        await asyncio.gather(*(_one_partner(engine, round_id, c, progress, tasks[c]) for c in DEMO_PARTNERS))

    out_dir.mkdir(parents=True, exist_ok=True)
    table = Table(title=f"Round {round_id}: landing-zone letters")
    for column in ("partner", "announced", "agreed rate", "pages", "letter"):
        table.add_column(column)
    written = []
    for code in DEMO_PARTNERS:
        status, _ = await engine.offer_card(round_id, code)
        assert status.letter is not None and status.terms is not None
        path = out_dir / status.letter.filename
        path.write_bytes(await engine.letter_bytes(status.letter))
        written.append(path)
        table.add_row(
            code,
            f"{status.terms.landing_zone.announced_rate_pct:g}%",
            f"{status.terms.agreed_rate_pct:g}%",
            str(status.letter.pages),
            str(path),
        )
    console.print(table)
    write_portal_samples(round_id, out_dir)
    return written


def write_portal_samples(round_id: str, out_dir: Path) -> tuple[Path, Path]:
    """Two offers of the portal partner to upload by hand: one missing categories, then the complete one."""
    today = datetime.now(UTC).date()
    deficient = out_dir / f"{PORTAL_PARTNER}-offer-incomplete.json"
    complete = out_dir / f"{PORTAL_PARTNER}-offer.json"
    for path, bad in ((deficient, True), (complete, False)):
        doc = sample_offer(round_id, PORTAL_PARTNER, lines=24, seed=11, received=today, deficient=bad)
        path.write_text(doc.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return deficient, complete


def seed_users(users: Users) -> list[tuple[str, Role, str | None, str]]:
    """Create the demo users that do not exist yet; returns every demo user with its password."""
    for name, role, partner, password in DEMO_USERS:
        if users.get(name) is None:
            users.add(name, role, password, partner)
    return DEMO_USERS
