"""The `offerdesk` command: exit 0 on success, 1 when the engine refuses, 2 for unusable input, 3 for an outage
(Temporal cannot be reached, no worker is running, the store is away).

One module per command group; this one puts them together, and imports only the group (or command) that runs:
`round status` need not load the worker, the portal or the spreadsheets, and `offerdesk --help` lists every
command from the table below without importing any of them (issue 26).
"""

from __future__ import annotations

import gc
import importlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import typer

from offerdesk.private import keep_private

HELP = "Offerdesk: best offers from intake to landing-zone letter, on Temporal."


@dataclass(frozen=True)
class Entry:
    """A top-level command or group: what `offerdesk --help` says of it, and where it lives."""

    help: str
    """Its own help, word for word (tests/test_cli_start.py compares them): the group's, or the function's
    docstring."""
    modules: tuple[str, ...]
    """Modules of offerdesk.cli to import, in this order: the first defines it, the others add commands to it."""
    attribute: str
    """The Typer group, or the command's function, in the first module."""

    @property
    def group(self) -> bool:
        return self.attribute.endswith("_app")


COMMANDS: dict[str, Entry] = {
    "up": Entry(
        "Run Offerdesk: the embedded Temporal dev server (unless TEMPORAL_ADDRESS is set), a worker and the portal.",
        ("run",),
        "up",
    ),
    "worker": Entry(
        "Run a worker against the configured Temporal (TEMPORAL_ADDRESS, or the embedded server).", ("run",), "worker"
    ),
    "demo": Entry(
        "Open a demo round for a few partners, take each to a letter, and leave the letters on disk.", ("run",), "demo"
    ),
    "portal": Entry(
        "Serve only the portal, against the configured Temporal (workers run elsewhere, sharing the store).",
        ("run",),
        "portal",
    ),
    "round": Entry("Open rounds and follow them.", ("round", "round_report"), "round_app"),
    "offer": Entry(
        "Submit, amend, withdraw and read offers.", ("offer", "answer", "offer_diff", "offer_files"), "offer_app"
    ),
    "review": Entry(
        "Reviewers' decisions on offers under review, as OFFERDESK_OPERATOR (default: your OS user name).",
        ("review",),
        "review_app",
    ),
    "staff": Entry(
        "Staff decisions as OFFERDESK_OPERATOR: extend review windows, decide escalations, retry letters.",
        ("staff", "answer"),
        "staff_app",
    ),
    "letter": Entry("Landing-zone letters.", ("letter",), "letter_app"),
    "user": Entry("Portal users: negotiators (bound to a partner), reviewers, staff.", ("user",), "user_app"),
    "token": Entry("API tokens for programs that call the portal's API.", ("token",), "token_app"),
    "keys": Entry("The keyring that encrypts every payload in Temporal.", ("keys",), "keys_app"),
    "db": Entry(
        "The database of users, sessions, tokens, the audit log and notices (OFFERDESK_DATABASE_URL).",
        ("db",),
        "db_app",
    ),
}
"""Every top-level command and group, in the order `offerdesk --help` lists them. Offer accept and staff
reopen/close come from `answer`; offer diff, offer template/export and round report from their own modules."""


def load(name: str) -> Any:
    """The command's function or the group's Typer, with every module that adds to it imported."""
    entry = COMMANDS[name]
    found = [importlib.import_module(f"offerdesk.cli.{module}") for module in entry.modules]
    return getattr(found[0], entry.attribute)


def _stub() -> None:
    """Stands in for a command that does not run this time; never called."""


def build(loaded: Collection[str]) -> typer.Typer:
    """The `offerdesk` command with the commands and groups named in `loaded` imported, and every other one a stub
    that only knows its name and help: enough for `offerdesk --help`, for suggestions on a typo, and for its place
    in the list."""
    app = typer.Typer(help=HELP, no_args_is_help=True)
    for name, entry in COMMANDS.items():
        if entry.group:
            group = load(name) if name in loaded else typer.Typer(help=entry.help, no_args_is_help=True)
            app.add_typer(group, name=name)
        elif name in loaded:
            app.command(name=name)(load(name))
        else:
            app.command(name=name, help=entry.help)(_stub)
    return app


def wanted(args: list[str], environ: Mapping[str, str] = os.environ) -> Collection[str]:
    """What this invocation runs: the first word that is not an option (the top level's options take no value),
    or every command when the shell asks for completions (they need every command's options)."""
    if "_OFFERDESK_COMPLETE" in environ:
        return COMMANDS.keys()
    command = next((a for a in args if not a.startswith("-")), "")
    return {command} & COMMANDS.keys()


SERVICES = {"worker": "offerdesk-worker", "portal": "offerdesk-portal", "up": "offerdesk"}
"""Each running command's service name in traces, unless OTEL_SERVICE_NAME says otherwise; other commands are
offerdesk-cli."""

_TRACING_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
"""Tracing needs one of these (offerdesk/observe/tracing.py: tracing_asked); without them its module, and the
OpenTelemetry SDK and Temporal worker it imports, are not loaded."""


def _observe() -> Callable[[], None]:
    """Logs as OFFERDESK_LOG_FORMAT and OFFERDESK_LOG_LEVEL say, and traces if the OTEL_* variables ask; exit 2
    with a sentence for a value that cannot be used. What to call before leaving: flush the last spans."""
    from offerdesk.observe.logs import log_format, log_level, setup_logging

    try:
        chosen = log_format(os.environ.get("OFFERDESK_LOG_FORMAT"))
        setup_logging(chosen, log_level(os.environ.get("OFFERDESK_LOG_LEVEL"), chosen))
        if not any(os.environ.get(name) for name in _TRACING_VARIABLES):
            return lambda: None
        from offerdesk.observe.tracing import flush_traces, setup_tracing

        command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
        setup_tracing(SERVICES.get(command, "offerdesk-cli"))
        return flush_traces
    except ValueError as e:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("offerdesk.cli").error("%s", e)
        sys.stderr.flush()
        os._exit(2)


def main() -> None:
    keep_private()  # the portal database, the store and the server's files are owner-only
    app = build(wanted(sys.argv[1:]))
    flush_traces = _observe()
    code = 0
    try:
        app()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    # Leave without the interpreter's shutdown: the Temporal SDK's native threads may still call into Python
    # while it finalizes, which aborts the process ("PyGILState_Release") after the work is done and printed.
    # That skips multiprocessing's own exit handling, so the worker's render processes are ended here.
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout=10)
    if "multiprocessing.synchronize" in sys.modules:
        # A process pool's semaphores leave multiprocessing's resource tracker when the pool is collected, and
        # os._exit skips collecting: a pool still in a reference cycle would have the tracker warn of "leaked
        # semaphore objects" on stderr, outside the JSON lines. Only a process that made such locks (the worker's
        # render pool) pays for a full collection; `round status` does not.
        gc.collect()
    flush_traces()  # the last spans: os._exit skips the exporter's own flush at exit
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    main()
