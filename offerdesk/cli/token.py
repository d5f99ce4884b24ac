"""`offerdesk token`: API tokens for programs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from offerdesk.cli.common import err, out
from offerdesk.cli.user import account_call, people

token_app = typer.Typer(help="API tokens for programs that call the portal's API.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
) -> None:
    """Create an API token; it is printed once and only its hash is kept."""
    created = account_call(lambda: people().tokens.create(user, label, "cli"))
    err.print(f"API token {created.token_id} for {created.user}; keep it now, it is not shown again:")
    print(created.token)


@token_app.command("list")
def token_list() -> None:
    table = Table("id", "acts as", "label", "created", "revoked")
    for t in account_call(people().tokens.all):
        table.add_row(t.token_id, t.user, t.label, t.created_at.strftime("%Y-%m-%d %H:%M"), "yes" if t.revoked else "")
    out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: str) -> None:
    account_call(lambda: people().tokens.revoke(token_id))
    out.print(f"Token {token_id} revoked.")
