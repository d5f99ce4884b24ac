"""The `offerdesk` command: exit 0 on success, 1 when the engine refuses, 2 for unusable input, 3 for an outage
(Temporal cannot be reached, no worker is running, the store is away)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from temporalio.service import RPCError

from activities.reference import UnknownPartnerError, partner_references
from offerdesk.config import Settings
from offerdesk.converter import Keyring, KeyringError, ensure_keyring
from offerdesk.documents import UnusableInputError, load_offer
from offerdesk.durations import format_duration, parse_deadline, parse_duration
from offerdesk.engine import Engine, EngineUnavailable, Refused, connect
from offerdesk.portal.accounts import Accounts
from offerdesk.private import keep_private, make_private
from schemas.offer_state import OfferCard, OfferState, OfferStatus, SubmissionResult
from schemas.portal import Role
from schemas.review import Approve, Comment, ExtendReview, RequestChanges, RetryLetter, StaffDecision, Withdraw
from schemas.round import RoundSpec

app = typer.Typer(help="Offerdesk: best offers from intake to landing-zone letter, on Temporal.", no_args_is_help=True)
round_app = typer.Typer(help="Open rounds and follow them.", no_args_is_help=True)
offer_app = typer.Typer(help="Submit, amend, withdraw and read offers.", no_args_is_help=True)
review_app = typer.Typer(
    help="Reviewers' decisions on offers under review, as OFFERDESK_OPERATOR (default: your OS user name).",
    no_args_is_help=True,
)
staff_app = typer.Typer(
    help="Staff decisions as OFFERDESK_OPERATOR: extend review windows, decide escalations, retry letters.",
    no_args_is_help=True,
)
letter_app = typer.Typer(help="Landing-zone letters.", no_args_is_help=True)
user_app = typer.Typer(help="Portal users: negotiators (bound to a partner), reviewers, staff.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for programs that call the portal's API.", no_args_is_help=True)
keys_app = typer.Typer(help="The keyring that encrypts every payload in Temporal.", no_args_is_help=True)
app.add_typer(round_app, name="round")
app.add_typer(offer_app, name="offer")
app.add_typer(review_app, name="review")
app.add_typer(staff_app, name="staff")
app.add_typer(letter_app, name="letter")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(keys_app, name="keys")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


OUTAGE = 3
"""Exit code for 'cannot reach Temporal', 'no worker is running' and 'the store is away': scripts can retry."""


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as e:
        raise _fail(str(e), 2) from None


def _call(work: Callable[[Engine], Awaitable[T]]) -> T:
    """Connect, run, and turn every failure a person can cause into a message and an exit code."""
    settings = _settings()

    async def main() -> T:
        return await work(await Engine.from_settings(settings))

    try:
        return asyncio.run(main())
    except Refused as e:
        raise _fail(e.message, 1) from None
    except EngineUnavailable as e:
        raise _fail(str(e), OUTAGE) from None
    except (UnusableInputError, ValueError) as e:
        raise _fail(str(e), 2) from None
    except RPCError as e:
        hint = (
            "; register Offerdesk's search attributes in the namespace (README: Running against a Temporal cluster)"
            if "search attribute" in e.message
            else ""
        )
        raise _fail(f"Temporal refused the call: {e.message}{hint}", 1) from None


def _input(parse: Callable[[], T]) -> T:
    try:
        return parse()
    except ValidationError as e:
        raise _fail("; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()), 2) from None
    except (UnusableInputError, UnknownPartnerError, ValueError) as e:
        raise _fail(str(e), 2) from None


def _print_json(model: BaseModel | list[Any] | dict[str, Any]) -> None:
    print(model.model_dump_json(indent=2) if isinstance(model, BaseModel) else json.dumps(model, indent=2, default=str))


# ---- running ----------------------------------------------------------------------------------


@app.command()
def up(
    demo: Annotated[bool, typer.Option(help="Seed the demo round (once) so there is something to see.")] = False,
) -> None:
    """Run Offerdesk: the embedded Temporal dev server (unless TEMPORAL_ADDRESS is set), a worker and the portal."""
    from offerdesk.devserver import DevServer

    settings = _settings()
    make_private(settings.home)
    if settings.embedded and ensure_keyring(settings.keys_file):
        out.print(
            f"Made a keyring at {settings.keys_file}: every payload in Temporal is encrypted with it; back it up."
        )
    codec = f"http://{_portal_address(settings)}/codec"
    server = (
        DevServer(settings.home, settings.temporal_port, settings.ui_port, codec_endpoint=codec)
        if settings.embedded
        else None
    )
    try:
        if server:
            server.start()
            out.print(f"Temporal dev server on {settings.address}, database {settings.home / 'temporal.db'}")
            out.print(f"Temporal UI: [bold]{server.ui_url}[/]")
        else:
            out.print(f"Using Temporal at {settings.address}, namespace {settings.namespace}")
        asyncio.run(_serve(settings, demo))
    except EngineUnavailable as e:
        raise _fail(str(e), OUTAGE) from None
    except KeyringError as e:
        raise _fail(str(e), 2) from None
    except (RuntimeError, FileNotFoundError) as e:
        raise _fail(str(e), 1) from None
    finally:
        if server:
            server.stop()


async def _serve(settings: Settings, demo: bool) -> None:
    from offerdesk.portal.app import serve_portal
    from offerdesk.worker import run_worker

    client = await connect(settings, verbose=True)
    engine = Engine(client, settings.store(), update_timeout=settings.update_timeout, embedded=settings.embedded)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = asyncio.create_task(run_worker(client, settings, stop))
    out.print(f"Worker running on task queue 'offerdesk'; documents and letters are stored in {engine.store.location}")
    portal = asyncio.create_task(serve_portal(settings, engine, stop))
    if demo:
        await _seed_demo(engine, settings)
    out.print(f"Portal: [bold]{_portal_url(settings)}[/]   (Ctrl-C stops everything)")
    await asyncio.gather(worker, portal)


def _portal_address(settings: Settings) -> str:
    host = "127.0.0.1" if settings.portal_host in ("0.0.0.0", "::", "") else settings.portal_host
    return f"{host}:{settings.portal_port}"


def _portal_url(settings: Settings) -> str:
    return f"http://{_portal_address(settings)}/"


async def _seed_demo(engine: Engine, settings: Settings) -> None:
    from offerdesk.demo import PORTAL_PARTNER, run_demo, seed_users, write_portal_samples
    from offerdesk.portal.accounts import Accounts

    out_dir = settings.home / "out" / "demo"
    try:
        await engine.round_status("demo")
        out.print(f"The demo round exists already; its letters are in {out_dir}")
    except Refused:
        try:
            await run_demo(engine, out_dir, "demo", out)
        except Refused as e:
            err.print(f"[red]the demo could not finish:[/] {e.message}")
    incomplete, complete = write_portal_samples("demo", out_dir)
    users = await asyncio.to_thread(seed_users, Accounts(settings.portal_db))
    table = Table(title=f"Sign in at {_portal_url(settings)}signin")
    for column in ("name", "password", "role", "their job in the demo round"):
        table.add_column(column)
    jobs = {
        "negotiator": f"submit {PORTAL_PARTNER}'s offer: upload {incomplete.name}, read the findings, "
        f"then amend with {complete.name} (both in {out_dir})",
        "reviewer": f"approve {PORTAL_PARTNER} from the review queue (two reviewers are needed)",
        "staff": "follow the round on its dashboard, download the letters, read the audit log",
    }
    for name, role, partner, password in users:
        table.add_row(name, password, role.value + (f" for {partner}" if partner else ""), jobs[role.value])
    out.print(table)


@app.command()
def worker() -> None:
    """Run a worker against the configured Temporal (TEMPORAL_ADDRESS, or the embedded server)."""
    from offerdesk.worker import run_worker

    settings = _settings()
    make_private(settings.home)

    async def main() -> None:
        client = await connect(settings, verbose=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        out.print(f"Worker connected to {settings.address}; Ctrl-C stops it.")
        await run_worker(client, settings, stop)

    try:
        asyncio.run(main())
    except EngineUnavailable as e:
        raise _fail(str(e), OUTAGE) from None
    except KeyringError as e:
        raise _fail(str(e), 2) from None


@app.command()
def demo() -> None:
    """Open a demo round for a few partners, take each to a letter, and leave the letters on disk."""
    from offerdesk.demo import run_demo

    settings = _settings()
    round_id = "demo-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    paths = _call(lambda e: run_demo(e, settings.home / "out" / round_id, round_id, out))
    out.print(f"{len(paths)} letters written to {paths[0].parent}")


# ---- rounds -----------------------------------------------------------------------------------


@round_app.command("open")
def round_open(
    round_id: str,
    deadline: Annotated[
        str, typer.Option(help="ISO time with zone (2026-12-02T17:00:00+01:00), or a duration from now (2h).")
    ],
    partner: Annotated[list[str], typer.Option(help="A partner code (JP, EU, ...); repeat for each partner.")],
    review_window: Annotated[str, typer.Option(help="How long reviewers have, e.g. 3d, 12h, 90s.")] = "3d",
    approvals: Annotated[int, typer.Option(help="Distinct reviewer approvals an offer needs.")] = 2,
    by: Annotated[str, typer.Option(help="Who opens the round.")] = "staff",
    as_json: JsonOpt = False,
) -> None:
    """Open a round and invite partners: each partner's offer workflow starts now."""
    spec = _input(
        lambda: RoundSpec(
            round_id=round_id,
            partners=partner_references([p.strip().upper() for p in partner]),
            deadline=parse_deadline(deadline, datetime.now(UTC)),
            review_window=parse_duration(review_window),
            approvals_required=approvals,
            opened_by=by,
        )
    )
    status = _call(lambda e: e.open_round(spec))
    if as_json:
        _print_json(status)
    else:
        out.print(
            f"Round [bold]{round_id}[/] is open for {', '.join(status.partners)} until {status.deadline.isoformat()}; "
            f"review window {format_duration(status.review_window)}, {status.approvals_required} approvals."
        )


@round_app.command("status")
def round_status(round_id: str, as_json: JsonOpt = False) -> None:
    """Every invited partner's state, from Temporal visibility."""

    async def work(e: Engine) -> tuple[Any, Any]:
        return await e.round_status(round_id), await e.list_offers(round_id=round_id)

    status, listings = _call(work)
    if as_json:
        _print_json({"round": status.model_dump(mode="json"), "offers": [x.model_dump(mode="json") for x in listings]})
        return
    table = Table(title=f"Round {round_id}: submissions close {status.deadline.isoformat()}")
    for column in ("partner", "state", "review deadline", "note"):
        table.add_column(column)
    listed = {x.partner: x for x in listings}
    for code in status.partners:
        x = listed.get(code)
        if x is None:  # visibility lags the round by a second or so
            table.add_row(code, "INVITED", "", "")
            continue
        note = f"letter failed: {x.letter_failure}" if x.state == OfferState.LETTER_FAILED and x.letter_failure else ""
        table.add_row(x.partner, x.state, x.review_deadline.isoformat() if x.review_deadline else "", note)
    out.print(table)


@round_app.command("list")
def round_list(
    state: Annotated[str | None, typer.Option(help="Only offers in this state, e.g. UNDER_REVIEW.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Offers in every round, from Temporal visibility."""
    listings = _call(lambda e: e.list_offers(state=state.upper() if state else None))
    if as_json:
        _print_json([x.model_dump(mode="json") for x in listings])
        return
    table = Table()
    for column in ("round", "partner", "state", "review deadline"):
        table.add_column(column)
    for x in listings:
        table.add_row(x.round_id, x.partner, x.state, x.review_deadline.isoformat() if x.review_deadline else "")
    out.print(table)


# ---- offers -----------------------------------------------------------------------------------


SHOWN_FINDINGS = 50


def _print_findings(findings: list[Any], shown: int = SHOWN_FINDINGS) -> None:
    for f in findings[:shown]:
        colour = "red" if f.severity.value == "error" else "yellow"
        out.print(f"  [{colour}]{f.severity.value}[/] {f.path}: {f.message}", highlight=False)
    if len(findings) > shown:
        out.print(f"  ... and {len(findings) - shown:,} more; 'offer show --json' lists them all", highlight=False)


def _print_receipt(receipt: SubmissionResult, as_json: bool) -> None:
    if as_json:
        _print_json(receipt)
        return
    verb = "was already received as" if receipt.duplicate else "accepted as"
    out.print(
        f"{receipt.partner}'s offer in round {receipt.round_id} {verb} version {receipt.version}: {receipt.state.value}"
    )
    if receipt.report:
        _print_findings(receipt.report.errors + receipt.report.warnings)


def _operator() -> str:
    """Who acts from the command line: OFFERDESK_OPERATOR, or the OS user name. Never a name in a document."""
    return _settings().operator


@offer_app.command("submit")
def offer_submit(file: Path, as_json: JsonOpt = False) -> None:
    """Submit an offer document (schema version 1) as OFFERDESK_OPERATOR (default: your OS user name).

    The offer records the operator as its submitter, who then may not review or decide it; the document's
    submitted_by is the partner's contact, shown in the audit trail.
    """
    document = _input(lambda: load_offer(file))
    by = _operator()
    _print_receipt(_call(lambda e: e.submit(document, by=by)), as_json)


@offer_app.command("amend")
def offer_amend(file: Path, as_json: JsonOpt = False) -> None:
    """Replace a submitted offer with a changed document, as OFFERDESK_OPERATOR."""
    document = _input(lambda: load_offer(file))
    by = _operator()
    _print_receipt(_call(lambda e: e.submit(document, amend=True, by=by)), as_json)


@offer_app.command("withdraw")
def offer_withdraw(
    round_id: str,
    partner: str,
    reason: Annotated[str, typer.Option()] = "",
) -> None:
    """Withdraw a partner's offer from the round, as OFFERDESK_OPERATOR."""
    by = _operator()
    request = _input(lambda: Withdraw(by=by, reason=reason))
    answer = _call(lambda e: e.withdraw(round_id, partner.upper(), request))
    out.print(f"{answer.partner}'s offer in round {round_id} is {answer.state.value}.")


def _print_status(s: OfferStatus) -> None:
    out.print(f"[bold]{s.partner_name} ({s.partner})[/], round {s.round_id}: [bold]{s.state.value}[/]")
    if s.closed:
        when = s.closed.at.isoformat() if s.closed.at else "at an unknown time"
        out.print(
            f"  Temporal reports the offer's workflow {s.closed.status} {when}: {s.closed.reason}", highlight=False
        )
    latest = s.versions[-1].submitted_by if s.versions else None
    sent = f" (the latest sent by {latest})" if latest else ""
    out.print(f"  submissions close {s.deadline.isoformat()}; versions received: {len(s.versions)}{sent}")
    if s.review_deadline:
        out.print(
            f"  review window ends {s.review_deadline.isoformat()}; approvals {len(s.approvals)}/{s.approvals_required}"
        )
    if s.report:
        out.print("  categories: " + ", ".join(f"{c.value}={v.value}" for c, v in s.report.categories.items()))
        _print_findings(s.report.errors + s.report.warnings)
    if s.changes_requested:
        out.print(f"  changes requested: {' '.join(s.changes_requested)}")
    if s.landing_zone:
        z = s.landing_zone
        out.print(
            f"  landing zone: proposed {z.proposed_rate_pct:g}% "
            f"(announced {z.announced_rate_pct:g}%, score {z.score:.2f})"
        )
    if s.terms:
        out.print(f"  agreed rate {s.terms.agreed_rate_pct:g}%, set by {s.terms.rate_set_by}")
    if s.letter:
        out.print(f"  letter {s.letter.filename}, {s.letter.pages} pages, sha256 {s.letter.sha256}")
    if s.letter_failure:
        out.print(
            f"  [red]the letter failed:[/] {s.letter_failure}. Once the cause is fixed, staff retry it with "
            f"'offerdesk staff retry-letter {s.round_id} {s.partner}'",
            highlight=False,
        )
    for note in s.notes:
        out.print(f"  [yellow]note:[/] {note}", highlight=False)


@offer_app.command("show")
def offer_show(round_id: str, partner: str, as_json: JsonOpt = False) -> None:
    """An offer's state, findings, landing zone, approvals and letter."""
    status = _call(lambda e: e.offer_status(round_id, partner.upper()))
    if as_json:
        _print_json(status)
    else:
        _print_status(status)


# ---- review and staff: the operator (OFFERDESK_OPERATOR, or the OS user name) acts ---------------


@review_app.command("approve")
def review_approve(
    round_id: str,
    partner: str,
    rate: Annotated[float | None, typer.Option(help="Adjusted reciprocal rate in percent.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why the rate was adjusted.")] = None,
) -> None:
    """Approve an offer under review as OFFERDESK_OPERATOR, optionally adjusting the reciprocal rate.

    Refused if the operator submitted any version of the offer.
    """
    reviewer = _operator()
    request = _input(lambda: Approve(reviewer=reviewer, rate_pct=rate, reason=reason))
    answer = _call(lambda e: e.approve(round_id, partner.upper(), request))
    out.print(
        f"Approved by {reviewer}: {answer.approvals}/{answer.approvals_required} approvals; {answer.state.value}."
    )


@review_app.command("request-changes")
def review_request_changes(
    round_id: str,
    partner: str,
    note: Annotated[str, typer.Option(help="What the negotiator should change.")],
) -> None:
    """Send an offer back to its negotiator with notes, as OFFERDESK_OPERATOR (not one who submitted it)."""
    reviewer = _operator()
    request = _input(lambda: RequestChanges(reviewer=reviewer, note=note))
    answer = _call(lambda e: e.request_changes(round_id, partner.upper(), request))
    out.print(f"Sent back to the negotiator; they may amend until {answer.amend_until.isoformat()}.")


@review_app.command("comment")
def review_comment(
    round_id: str,
    partner: str,
    text: Annotated[str, typer.Option(help="The comment.")],
) -> None:
    """Leave a comment on an offer as OFFERDESK_OPERATOR, recorded in its audit trail."""
    reviewer = _operator()
    request = _input(lambda: Comment(reviewer=reviewer, text=text))
    _call(lambda e: e.comment(round_id, partner.upper(), request))
    out.print("Comment recorded.")


@staff_app.command("extend")
def staff_extend(
    round_id: str,
    partner: str,
    extend_by: Annotated[str, typer.Option("--extend", help="How much longer, e.g. 1d.")],
    reason: Annotated[str, typer.Option()] = "",
) -> None:
    """Extend an offer's review window as OFFERDESK_OPERATOR (also reopens an escalated offer for review)."""
    by = _operator()
    request = _input(lambda: ExtendReview(by=by, extend_by=parse_duration(extend_by), reason=reason))
    answer = _call(lambda e: e.extend_review(round_id, partner.upper(), request))
    assert answer.review_deadline is not None
    out.print(f"Review window now ends {answer.review_deadline.isoformat()}.")


@staff_app.command("decide")
def staff_decide(
    round_id: str,
    partner: str,
    decision: Annotated[str, typer.Option(help="approve or request_changes.")],
    reason: Annotated[str, typer.Option(help="Why; recorded and, for approvals, printed in the letter.")],
    rate: Annotated[
        float | None, typer.Option(help="The reciprocal rate, 0-100; staff may go outside the reviewers' bounds.")
    ] = None,
) -> None:
    """Decide an escalated offer as OFFERDESK_OPERATOR; refused if the operator submitted any version of it."""
    by = _operator()
    request = _input(lambda: StaffDecision(by=by, decision=decision.replace("-", "_"), rate_pct=rate, reason=reason))
    answer = _call(lambda e: e.decide(round_id, partner.upper(), request))
    out.print(f"Decided: {answer.state.value}.")


@staff_app.command("retry-letter")
def staff_retry_letter(
    round_id: str,
    partner: str,
    reason: Annotated[str, typer.Option(help="What was fixed.")] = "",
) -> None:
    """Render and store a letter again after it failed (LETTER_FAILED), once its cause is fixed; as the operator."""
    by = _operator()
    request = _input(lambda: RetryLetter(by=by, reason=reason))
    answer = _call(lambda e: e.retry_letter(round_id, partner.upper(), request))
    out.print(f"The letter is being rendered again: {answer.state.value}. 'offerdesk letter download' waits for it.")


# ---- letters ----------------------------------------------------------------------------------


@letter_app.command("download")
def letter_download(
    round_id: str,
    partner: str,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Where to write the PDF.")] = None,
) -> None:
    """Write a partner's landing-zone letter to a file (no worker needed for a letter already issued)."""

    async def work(e: Engine) -> tuple[OfferCard, bytes | None]:
        card, _ = await e.offer_card(round_id, partner.upper())
        if card.state is OfferState.APPROVED:  # the letter is being rendered: wait for it
            card = await e.wait_for(round_id, partner.upper(), {"LETTER_ISSUED", "LETTER_FAILED"}, timedelta(minutes=2))
        return card, await e.letter_bytes(card.letter) if card.letter else None

    card, data = _call(work)
    if card.letter is None or data is None:
        why = (
            f": {card.letter_failure}; once the cause is fixed, staff run 'offerdesk staff retry-letter'"
            if (card.letter_failure)
            else "; it has no letter yet"
        )
        raise _fail(f"{card.partner_name}'s offer in round {round_id} is {card.state.value}{why}", 1)
    target = output or Path(card.letter.filename)
    target.write_bytes(data)
    out.print(f"Wrote {target} ({len(data):,} bytes, {card.letter.pages} pages, sha256 {card.letter.sha256}).")


# ---- the portal, its users and tokens ---------------------------------------------------------


@app.command()
def portal(
    host: Annotated[str | None, typer.Option(help="Default OFFERDESK_PORTAL_HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default OFFERDESK_PORTAL_PORT or 8000.")] = None,
) -> None:
    """Serve only the portal, against the configured Temporal (workers run elsewhere, sharing the store)."""
    import uvicorn

    from offerdesk.portal.app import create_app

    settings = _settings()
    make_private(settings.home)
    try:
        settings.converter()  # a missing keyring is a sentence now, not an error inside the server's start
    except KeyringError as e:
        raise _fail(str(e), 2) from None
    settings = replace(settings, portal_host=host or settings.portal_host, portal_port=port or settings.portal_port)
    out.print(f"Portal: [bold]{_portal_url(settings)}[/] against Temporal at {settings.address}")
    try:
        uvicorn.run(create_app(settings), host=settings.portal_host, port=settings.portal_port, log_level="warning")
    except EngineUnavailable as e:
        raise _fail(str(e), OUTAGE) from None


def _accounts() -> Accounts:
    from offerdesk.portal.accounts import Accounts

    return Accounts(Settings.from_env().portal_db)


def _account_call(work: Callable[[], T]) -> T:
    from offerdesk.portal.accounts import AccountError

    try:
        return work()
    except AccountError as e:
        raise _fail(e.message, 2 if e.kind == "Invalid" else 1) from None


RoleOpt = Annotated[Role, typer.Option("--role", help="negotiator, reviewer or staff")]
PasswordOpt = Annotated[
    str,
    typer.Option(
        prompt=True, hide_input=True, confirmation_prompt=True, help="At least 8 characters; asked if not given."
    ),
]


@user_app.command("add")
def user_add(
    name: str,
    role: RoleOpt,
    password: PasswordOpt,
    partner: Annotated[str | None, typer.Option(help="The partner a negotiator speaks for, such as JP.")] = None,
) -> None:
    """Add a portal user; a negotiator needs --partner."""
    user = _account_call(lambda: _accounts().add_user(name, role, password, partner))
    out.print(f"Added {user.name} ({user.role.value}{f' for {user.partner}' if user.partner else ''}).")


@user_app.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    users = _accounts().users()
    if as_json:
        _print_json([u.model_dump(mode="json") for u in users])
        return
    table = Table("name", "role", "partner", "since")
    for u in users:
        table.add_row(u.name, u.role.value, u.partner or "", u.created_at.strftime("%Y-%m-%d"))
    out.print(table)


@user_app.command("passwd")
def user_passwd(name: str, password: PasswordOpt) -> None:
    """Set a new password; the user's sessions end and their API tokens are revoked."""
    revoked = _account_call(lambda: _accounts().set_password(name, password))
    out.print(f"New password set for {name}; their sessions have ended and their {revoked} API token(s) are revoked.")


@user_app.command("remove")
def user_remove(name: str) -> None:
    """Remove a user with their sessions and tokens (the audit log keeps what they did)."""
    revoked = _account_call(lambda: _accounts().remove_user(name))
    out.print(f"Removed {name} with their sessions and {revoked} API token(s).")


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
) -> None:
    """Create an API token; it is printed once and only its hash is kept."""
    created = _account_call(lambda: _accounts().create_token(user, label, "cli"))
    err.print(f"API token {created.token_id} for {created.user}; keep it now, it is not shown again:")
    print(created.token)


@token_app.command("list")
def token_list() -> None:
    table = Table("id", "acts as", "label", "created", "revoked")
    for t in _accounts().tokens():
        table.add_row(t.token_id, t.user, t.label, t.created_at.strftime("%Y-%m-%d %H:%M"), "yes" if t.revoked else "")
    out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: str) -> None:
    _account_call(lambda: _accounts().revoke_token(token_id))
    out.print(f"Token {token_id} revoked.")


# ---- the keyring --------------------------------------------------------------------------------


@keys_app.command("init")
def keys_init() -> None:
    """Make a keyring at OFFERDESK_KEYS_FILE (for a cluster; 'offerdesk up' makes one for the embedded server)."""
    settings = _settings()
    if not ensure_keyring(settings.keys_file):
        raise _fail(f"a keyring exists at {settings.keys_file} already; 'offerdesk keys rotate' adds a key", 1)
    out.print(f"Made a keyring at {settings.keys_file}; copy it to every worker, portal and CLI user, and back it up.")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new key and make it current; payloads written with the older keys still decrypt."""
    settings = _settings()
    try:
        keyring = Keyring.load(settings.keys_file).rotated()
    except KeyringError as e:
        raise _fail(str(e), 2) from None
    keyring.save(settings.keys_file)
    out.print(
        f"Key {keyring.current} is current now ({len(keyring.keys)} keys in {settings.keys_file}). Copy the file to "
        "every worker, portal and CLI user, then restart them; keep the old keys as long as old offers exist."
    )


@keys_app.command("list")
def keys_list() -> None:
    """The key ids in the keyring and which is current (never the keys)."""
    settings = _settings()
    try:
        keyring = Keyring.load(settings.keys_file)
    except KeyringError as e:
        raise _fail(str(e), 2) from None
    for key_id in keyring.keys:
        out.print(f"{key_id}{'  (current)' if key_id == keyring.current else ''}")


def main() -> None:
    keep_private()  # the portal database, the store and the server's files are owner-only
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
