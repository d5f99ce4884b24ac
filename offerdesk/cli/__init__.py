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


def main() -> None:
    keep_private()  # the portal database, the store and the server's files are owner-only
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
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
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    main()
