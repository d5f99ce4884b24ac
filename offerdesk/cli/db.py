"""`offerdesk db`: the people's records' database (OFFERDESK_DATABASE_URL): where it stands, and its migrations."""

from __future__ import annotations

import typer

from offerdesk.cli.common import OUTAGE, UNUSABLE, fail, load_settings, out
from offerdesk.people import DatabaseUnavailable, SchemaMismatch

db_app = typer.Typer(
    help="The database of users, sessions, tokens, the audit log and notices (OFFERDESK_DATABASE_URL).",
    no_args_is_help=True,
)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations the database lacks (before starting a new version's portals and workers)."""
    from offerdesk.people.db import shown
    from offerdesk.people.migrate import upgrade

    settings = load_settings()
    try:
        before, after = upgrade(settings.database)
    except DatabaseUnavailable as e:
        raise fail(f"{e.message} ({shown(settings.database)})", OUTAGE) from None
    except SchemaMismatch as e:
        raise fail(e.message, UNUSABLE) from None
    if before.revision == after.revision:
        out.print(f"The database at {shown(settings.database)} is up to date (revision {after.revision}).")
    else:
        out.print(
            f"Upgraded the database at {shown(settings.database)} from {before.revision or 'nothing'} "
            f"to revision {after.revision}."
        )


@db_app.command("current")
def db_current() -> None:
    """Where the database stands: its revision and whether it is up to date (exit 0), or what to run (exit 1)."""
    from offerdesk.people.db import shown
    from offerdesk.people.migrate import State, standing

    settings = load_settings()
    try:
        found = standing(settings.database)
    except DatabaseUnavailable as e:
        raise fail(f"{e.message} ({shown(settings.database)})", OUTAGE) from None
    said = found.sentence()
    out.print(said[:1].upper() + said[1:] + ".", highlight=False)
    if found.state is not State.CURRENT:
        raise typer.Exit(1)
