"""`offerdesk user`: portal users."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from offerdesk.cli.common import OUTAGE, UNUSABLE, JsonOpt, T, fail, load_settings, out, print_json
from offerdesk.people import AccountError, DatabaseUnavailable, People, SchemaMismatch, open_people
from schemas.portal import Role
from schemas.refusal import Refusal

user_app = typer.Typer(help="Portal users: negotiators (bound to a partner), reviewers, staff.", no_args_is_help=True)


def people() -> People:
    """The portal's records, where the portal keeps them (OFFERDESK_DATABASE_URL, or the SQLite file in
    OFFERDESK_HOME); a database to upgrade (exit 2) or away (exit 3) is a sentence."""
    settings = load_settings()
    return account_call(lambda: open_people(settings.database, 1))


def account_call(work: Callable[[], T]) -> T:
    """Run `work`; a refusal is its sentence, exit 2 for input to fix, 1 for a name taken or missing, 3 when the
    database cannot be reached."""
    try:
        return work()
    except AccountError as e:
        raise fail(e.message, 2 if e.kind is Refusal.INVALID else 1) from None
    except SchemaMismatch as e:
        raise fail(e.message, UNUSABLE) from None
    except DatabaseUnavailable as e:
        raise fail(e.message, OUTAGE) from None


def mailed_to(address: str) -> str:
    """The address as the CLI confirms it; an international one says what it needs of the mail server."""
    if address.rpartition("@")[0].isascii():
        return address
    return f"{address} (an international address: the mail server must offer SMTPUTF8)"


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
    email: Annotated[
        str | None,
        typer.Option(help="Where the user's notifications are mailed; without one they are on the portal only."),
    ] = None,
) -> None:
    """Add a portal user; a negotiator needs --partner."""
    user = account_call(lambda: people().users.add(name, role, password, partner, email))
    mailed = f"; notifications go to {mailed_to(user.email)}" if user.email else ""
    out.print(f"Added {user.name} ({user.role.value}{f' for {user.partner}' if user.partner else ''}){mailed}.")


@user_app.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """The portal's users, with the address their notifications go to and whether they get reminders."""
    users = account_call(people().users.all)
    if as_json:
        print_json([u.model_dump(mode="json") for u in users])
        return
    table = Table("name", "role", "partner", "since", "e-mail", "reminders")
    for u in users:
        table.add_row(
            u.name,
            u.role.value,
            u.partner or "",
            u.created_at.strftime("%Y-%m-%d"),
            u.email or "-",
            "on" if u.reminders else "off",
        )
    out.print(table)


@user_app.command("set-email")
def user_set_email(
    name: str,
    address: Annotated[str | None, typer.Argument(help="The new address, such as kenji@example.org.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the address instead of setting one.")] = False,
) -> None:
    """Set where a user's notifications are mailed, or remove the address with --clear.

    Without an address the user still finds every notice on the portal's Notifications page. An address with
    letters beyond ASCII before the @ (grâce@...) needs a mail server that offers SMTPUTF8: it is refused unless
    OFFERDESK_SMTP_UTF8=1 says so, or no mail server is configured (OFFERDESK_SMTP_URL unset).
    """
    if clear == (address is not None):
        raise fail("give either an ADDRESS or --clear, such as 'user set-email kenji kenji@example.org'", 2)
    if address is not None and not address.strip():
        raise fail("the address is empty; to remove an address, use --clear", 2)
    user = account_call(lambda: people().users.set_email(name, None if clear else address))
    if user.email:
        out.print(f"Notifications for {user.name} are mailed to {mailed_to(user.email)}.")
    else:
        out.print(f"{user.name} has no e-mail address now: their notifications appear in the portal only.")


class Switch(StrEnum):
    ON = "on"
    OFF = "off"


@user_app.command("reminders")
def user_reminders(name: str, setting: Annotated[Switch, typer.Argument(help="on or off")]) -> None:
    """Turn a user's reminders before deadlines on or off.

    Notices about decisions on the user's own offers are sent either way.

    Users can also switch their own reminders on the portal's Notifications page.
    """
    user = account_call(lambda: people().users.set_reminders(name, setting is Switch.ON))
    state = "on" if user.reminders else "off (decisions on their own offers still come)"
    out.print(f"Reminders for {user.name} are {state}.")


@user_app.command("passwd")
def user_passwd(name: str, password: PasswordOpt) -> None:
    """Set a new password; the user's sessions end and their API tokens are revoked."""
    revoked = account_call(lambda: people().users.set_password(name, password))
    out.print(f"New password set for {name}; their sessions have ended and their {revoked} API token(s) are revoked.")


@user_app.command("remove")
def user_remove(name: str) -> None:
    """Remove a user with their sessions and tokens (the audit log keeps what they did)."""
    revoked = account_call(lambda: people().users.remove(name))
    out.print(f"Removed {name} with their sessions and {revoked} API token(s).")
