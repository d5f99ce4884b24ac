"""Running Offerdesk: the embedded server, the worker, the portal, the demo."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from activities.signing.identity import SigningError, make_dev_identity
from offerdesk.cli.common import OUTAGE, UNUSABLE, call, fail, load_settings, log, out, say, warn
from offerdesk.config import Settings
from offerdesk.converter import KeyringError, ensure_keyring
from offerdesk.engine import Engine, EngineUnavailable, Refused, connect
from offerdesk.engine.connection import serve_sdk_metrics
from offerdesk.observe.endpoint import MetricsEndpoint
from offerdesk.observe.logs import LoggingConsole, json_logs
from offerdesk.people import DatabaseUnavailable, SchemaMismatch, open_people
from offerdesk.private import make_private
from schemas.refusal import Refusal

# ---- running ----------------------------------------------------------------------------------


def up(
    demo: Annotated[bool, typer.Option(help="Seed the demo round (once) so there is something to see.")] = False,
) -> None:
    """Run Offerdesk: the embedded Temporal dev server (unless TEMPORAL_ADDRESS is set), a worker and the portal."""
    from offerdesk.devserver import DevServer

    settings = with_local_metrics(load_settings())
    make_private(settings.home)
    if settings.embedded and ensure_keyring(settings.keys_file):
        say.print(
            f"Made a keyring at {settings.keys_file}: every payload in Temporal is encrypted with it; back it up."
        )
    if _made_dev_signer(settings):
        say.print(
            f"Made a development signing identity at {settings.signing_key} (self-signed, 'not for real letters'):"
            " letters are signed with it; set OFFERDESK_SIGNING_KEY for the office's own (README: Signed letters)."
        )
    codec = f"http://{_portal_address(settings)}/codec"
    server = (
        DevServer(settings.home, settings.temporal_port, settings.ui_port, codec_endpoint=codec)
        if settings.embedded
        else None
    )
    try:
        with _failing_as_sentences(
            "choose other ports with OFFERDESK_WORKER_METRICS_PORT and OFFERDESK_PORTAL_METRICS_PORT"
        ):
            _ready_database(settings)
            if server:
                server.start()
                say.print(f"Temporal dev server on {settings.address}, database {settings.home / 'temporal.db'}")
                say.print(f"Temporal UI: [bold]{server.ui_url}[/]")
            else:
                say.print(f"Using Temporal at {settings.address}, namespace {settings.namespace}")
            asyncio.run(_serve(settings, demo))
    except (RuntimeError, FileNotFoundError) as e:
        raise fail(str(e), 1) from None
    finally:
        if server:
            server.stop()


def _made_dev_signer(settings: Settings) -> bool:
    """On the embedded server's first start, with no OFFERDESK_SIGNING_KEY: a development identity, as the keyring."""
    if not (settings.embedded and settings.dev_signer and settings.signing_passphrase_file is not None):
        return False
    return make_dev_identity(Path(settings.signing_key), settings.signing_passphrase_file)


def _ready_database(settings: Settings) -> None:
    """The people's records at this code's revision, or SchemaMismatch before anything starts. A SQLite file is
    this machine's own, and `up` upgrades it; a shared database is upgraded deliberately, with `offerdesk db
    upgrade`."""
    from offerdesk.people.db import shown
    from offerdesk.people.migrate import upgrade

    if not settings.embedded_database:
        _check_database(settings)
        return
    before, after = upgrade(settings.database)
    if before.revision != after.revision:
        say.print(
            f"Upgraded the portal's database {shown(settings.database)} from {before.revision or 'nothing'} "
            f"to revision {after.revision}"
        )


def _check_database(settings: Settings) -> None:
    """SchemaMismatch (naming the command) unless the people's database is at this code's revision."""
    from offerdesk.people.migrate import State, standing

    found = standing(settings.database)
    if found.state is not State.CURRENT:
        raise SchemaMismatch(found.sentence())


async def _serve(settings: Settings, demo: bool) -> None:
    from offerdesk.portal.app import serve_portal
    from offerdesk.portal.metrics import portal_metrics
    from offerdesk.worker import run_worker

    sdk = serve_sdk_metrics()  # `up` always serves its metrics (with_local_metrics), the SDK's among them
    client = await connect(settings, verbose=True)
    engine = Engine(
        client,
        settings.store(),
        task_queue=settings.task_queue,
        update_timeout=settings.update_timeout,
        embedded=settings.embedded,
    )
    stop = _stop_on_signals(settings)
    endpoint = portal_metrics(settings, sdk)
    try:
        worker = asyncio.create_task(run_worker(client, settings, stop, sdk))
        say.print(
            f"Worker running on task queue '{settings.task_queue}'; documents and letters are stored in "
            f"{engine.store.location}; {_mail_line(settings)}"
        )
        portal = asyncio.create_task(serve_portal(settings, engine, stop))
        if demo:
            await _seed_demo(engine, settings)
        say.print(f"Portal: [bold]{_portal_url(settings)}[/]   (Ctrl-C stops everything)")
        say.print(_metrics_line(settings))
        await asyncio.gather(worker, portal)
    finally:
        _close(endpoint)


def _stop_on_signals(settings: Settings) -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM: the worker then drains (takes no new work, and lets the letters
    and notices it runs finish within OFFERDESK_WORKER_DRAIN_S). A second signal ends the process at once; what it
    was running goes to another worker after its heartbeat timeout."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if not stop.is_set():
            stop.set()
            say.print(
                f"Stopping: no new work is taken; letters and notices being run get up to "
                f"{settings.worker_drain_s:g} s to finish (OFFERDESK_WORKER_DRAIN_S). Again to stop at once."
            )
            return
        warn.print(
            "[yellow]Stopping at once:[/] work still running goes to another worker after its heartbeat timeout."
        )
        for each in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(each)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)  # ended by the signal, as the second Ctrl-C asks; render processes follow

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    return stop


UP_WORKER_METRICS_PORT = 9464
UP_PORTAL_METRICS_PORT = 9465


def with_local_metrics(settings: Settings) -> Settings:
    """`up` turns both metrics endpoints on: at OFFERDESK_WORKER_METRICS_PORT and OFFERDESK_PORTAL_METRICS_PORT
    if set, else at fixed local ports (9464 the worker's, 9465 the portal's)."""
    return replace(
        settings,
        worker_metrics_port=settings.worker_metrics_port or UP_WORKER_METRICS_PORT,
        portal_metrics_port=settings.portal_metrics_port or UP_PORTAL_METRICS_PORT,
    )


def _metrics_url(settings: Settings, port: int) -> str:
    host = "127.0.0.1" if settings.metrics_host in ("0.0.0.0", "::", "") else settings.metrics_host
    return f"http://{host}:{port}/metrics"


def _metrics_line(settings: Settings) -> str:
    places = [
        f"{what} {_metrics_url(settings, port)}"
        for what, port in (("worker", settings.worker_metrics_port), ("portal", settings.portal_metrics_port))
        if port is not None
    ]
    return "Metrics (Prometheus): " + ", ".join(places) if places else "Metrics: off"


def _close(endpoint: MetricsEndpoint | None) -> None:
    if endpoint is not None:
        endpoint.close()


def _capacity_line(settings: Settings) -> str:
    slots = settings.activity_slots or settings.render_processes
    return (
        f"{settings.render_processes} render processes, {slots} activity slots, {settings.mail_slots} mail slots, "
        f"{settings.worker_drain_s:g} s to drain on stop"
    )


def _mail_line(settings: Settings) -> str:
    if settings.smtp_url is None:
        return "no mail server (OFFERDESK_SMTP_URL): notices go to the portal's notifications page only"
    mailer = settings.mailer()
    assert mailer is not None
    return f"notices are mailed through {mailer.settings.host}:{mailer.settings.port} as {settings.mail_from}"


def _portal_address(settings: Settings) -> str:
    host = "127.0.0.1" if settings.portal_host in ("0.0.0.0", "::", "") else settings.portal_host
    return f"{host}:{settings.portal_port}"


def _portal_url(settings: Settings) -> str:
    return f"http://{_portal_address(settings)}/"


async def _run_demo(engine: Engine, out_dir: Path) -> None:
    from offerdesk.demo import run_demo

    try:
        await run_demo(engine, out_dir, "demo", LoggingConsole(log) if json_logs() else out)
    except Refused as e:
        warn.print(f"[red]the demo could not finish:[/] {e.message}")


async def _seed_demo(engine: Engine, settings: Settings) -> None:
    from offerdesk.demo import PORTAL_PARTNER, seed_users, write_portal_samples

    out_dir = settings.home / "out" / "demo"
    try:
        await engine.round_status("demo")
        say.print(f"The demo round exists already; its letters are in {out_dir}")
    except Refused as e:
        if e.kind is Refusal.UNREADABLE:  # a demo round from before encryption: say so, and carry on
            warn.print(f"[yellow]note:[/] {e.message}")
        else:
            await _run_demo(engine, out_dir)
    incomplete, complete = write_portal_samples("demo", out_dir)

    users = await asyncio.to_thread(seed_users, open_people(settings.database).users)
    table = Table(title=f"Sign in at {_portal_url(settings)}signin")
    secret = not json_logs()  # a log line never carries a password: the demo's are printed at a terminal only
    for column in ("name", *(["password"] if secret else []), "role", "their job in the demo round"):
        table.add_column(column)
    jobs = {
        "negotiator": f"submit {PORTAL_PARTNER}'s offer: upload {incomplete.name}, read the findings, "
        f"then amend with {complete.name} (both in {out_dir})",
        "reviewer": f"approve {PORTAL_PARTNER} from the review queue (two reviewers are needed)",
        "staff": "follow the round on its dashboard, download the letters, read the audit log",
    }
    for name, role, partner, password in users:
        role_text = role.value + (f" for {partner}" if partner else "")
        table.add_row(name, *([password] if secret else []), role_text, jobs[role.value])
    say.print(table)


def keep_home_private(settings: Settings) -> None:
    """Make OFFERDESK_HOME owner-only when this host keeps something in it: the default folder store, or the
    people's records in a SQLite file there. A portal or worker on PostgreSQL with its store elsewhere makes no
    home (a keyring or signing identity there is only read); a home that is there is tightened all the same."""
    from offerdesk.people.db import sqlite_path

    records = sqlite_path(settings.database)
    keeps = settings.store_url is None or (records is not None and settings.home in records.resolve().parents)
    if keeps or settings.home.exists():
        make_private(settings.home)


def worker() -> None:
    """Run a worker against the configured Temporal (TEMPORAL_ADDRESS, or the embedded server)."""
    from offerdesk.worker import run_worker

    settings = load_settings()
    keep_home_private(settings)

    async def main() -> None:
        await asyncio.to_thread(_check_database, settings)  # a database to upgrade is said before connecting
        sdk = serve_sdk_metrics() if settings.worker_metrics_port else None
        client = await connect(settings, verbose=True)
        stop = _stop_on_signals(settings)
        queue = settings.task_queue
        say.print(f"Worker connected to {settings.address}, task queue '{queue}'; {_mail_line(settings)}.")
        say.print(f"{_capacity_line(settings)}. Ctrl-C or SIGTERM stops it (after the work it runs).")
        if settings.worker_metrics_port:
            say.print(f"Metrics (Prometheus): {_metrics_url(settings, settings.worker_metrics_port)}")
        await run_worker(client, settings, stop, sdk)
        say.print("Worker stopped.")

    with _failing_as_sentences("choose another OFFERDESK_WORKER_METRICS_PORT"):
        asyncio.run(main())


@contextmanager
def _failing_as_sentences(port_hint: str) -> Iterator[None]:
    """How `up` and `worker` end when they cannot run: an outage exits 3, a database to upgrade and an unusable
    keyring or signing identity 2, a metrics port taken 1 (with `port_hint`); each with its sentence."""
    try:
        yield
    except (EngineUnavailable, DatabaseUnavailable) as e:
        raise fail(str(e), OUTAGE) from None
    except SchemaMismatch as e:
        raise fail(e.message, UNUSABLE) from None
    except (KeyringError, SigningError) as e:
        raise fail(str(e), UNUSABLE) from None
    except FileNotFoundError:  # no `temporal` binary: said by `up` itself
        raise
    except OSError as e:  # a metrics port taken
        raise fail(f"{e}; {port_hint}", 1) from None


def demo() -> None:
    """Open a demo round for a few partners, take each to a letter, and leave the letters on disk."""
    from offerdesk.demo import run_demo

    settings = load_settings()
    round_id = "demo-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    paths = call(lambda e: run_demo(e, settings.home / "out" / round_id, round_id, out))
    out.print(f"{len(paths)} letters written to {paths[0].parent}")


# ---- the portal, its users and tokens ---------------------------------------------------------


def portal(
    host: Annotated[str | None, typer.Option(help="Default OFFERDESK_PORTAL_HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default OFFERDESK_PORTAL_PORT or 8000.")] = None,
) -> None:
    """Serve only the portal, against the configured Temporal (workers run elsewhere, sharing the store)."""
    import uvicorn

    from offerdesk.portal.app import create_app
    from offerdesk.portal.metrics import portal_metrics

    settings = load_settings()
    keep_home_private(settings)
    try:
        settings.converter()  # a missing keyring is a sentence now, not an error inside the server's start
    except KeyringError as e:
        raise fail(str(e), 2) from None
    settings = replace(settings, portal_host=host or settings.portal_host, portal_port=port or settings.portal_port)
    try:
        app = create_app(settings)  # a database to upgrade, or away, is said now rather than on every page
    except DatabaseUnavailable as e:
        raise fail(f"{e.message} ({_shown_database(settings)})", OUTAGE) from None
    except SchemaMismatch as e:
        raise fail(e.message, UNUSABLE) from None
    say.print(f"Portal: [bold]{_portal_url(settings)}[/] against Temporal at {settings.address}")
    endpoint = None
    try:
        if settings.portal_metrics_port:
            endpoint = portal_metrics(settings, serve_sdk_metrics())
            say.print(f"Metrics (Prometheus): {_metrics_url(settings, settings.portal_metrics_port)}")
        uvicorn.run(app, **settings.server_options())
    except EngineUnavailable as e:
        raise fail(str(e), OUTAGE) from None
    except OSError as e:  # the metrics port taken
        raise fail(f"{e}; choose another OFFERDESK_PORTAL_METRICS_PORT", 1) from None
    finally:
        _close(endpoint)


def _shown_database(settings: Settings) -> str:
    from offerdesk.people.db import shown

    return shown(settings.database)
