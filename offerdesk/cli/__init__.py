"""The `offerdesk` command: exit 0 on success, 1 when the engine refuses, 2 for unusable input, 3 for an outage
(Temporal cannot be reached, no worker is running, the store is away).

One module per command group; this one puts them together.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys

import typer

from offerdesk.cli import (
    answer,
    db,
    keys,
    letter,
    offer,
    offer_diff,
    offer_files,
    review,
    round,
    round_report,
    run,
    staff,
    token,
    user,
)
from offerdesk.observe.logs import log_format, log_level, setup_logging
from offerdesk.observe.tracing import flush_traces, setup_tracing
from offerdesk.private import keep_private

app = typer.Typer(help="Offerdesk: best offers from intake to landing-zone letter, on Temporal.", no_args_is_help=True)
for command in (run.up, run.worker, run.demo, run.portal):
    app.command()(command)
app.add_typer(round.round_app, name="round")
app.add_typer(offer.offer_app, name="offer")
app.add_typer(review.review_app, name="review")
app.add_typer(staff.staff_app, name="staff")
app.add_typer(letter.letter_app, name="letter")
app.add_typer(user.user_app, name="user")
app.add_typer(token.token_app, name="token")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(db.db_app, name="db")
# These add commands to the groups above when imported: offer template/export, offer diff, round report, offer
# accept and staff reopen/close.
_EXTENSIONS = (offer_files, offer_diff, round_report, answer)


SERVICES = {"worker": "offerdesk-worker", "portal": "offerdesk-portal", "up": "offerdesk"}
"""Each running command's service name in traces, unless OTEL_SERVICE_NAME says otherwise; other commands are
offerdesk-cli."""


def _observe() -> None:
    """Logs as OFFERDESK_LOG_FORMAT and OFFERDESK_LOG_LEVEL say, and traces if the OTEL_* variables ask; exit 2
    with a sentence for a value that cannot be used."""
    try:
        chosen = log_format(os.environ.get("OFFERDESK_LOG_FORMAT"))
        setup_logging(chosen, log_level(os.environ.get("OFFERDESK_LOG_LEVEL"), chosen))
        command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
        setup_tracing(SERVICES.get(command, "offerdesk-cli"))
    except ValueError as e:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("offerdesk.cli").error("%s", e)
        sys.stderr.flush()
        os._exit(2)


def main() -> None:
    keep_private()  # the portal database, the store and the server's files are owner-only
    _observe()
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
    flush_traces()  # the last spans: os._exit skips the exporter's own flush at exit
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    main()
