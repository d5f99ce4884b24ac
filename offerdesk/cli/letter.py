"""`offerdesk letter`: landing-zone letters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from offerdesk.cli.common import call, fail, out, write_output
from offerdesk.engine import Engine
from schemas.offer_state import IssuedLetter, OfferCard, OfferState

letter_app = typer.Typer(help="Landing-zone letters.", no_args_is_help=True)


# ---- letters ----------------------------------------------------------------------------------


@letter_app.command("download")
def letter_download(
    round_id: str,
    partner: str,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Where to write the PDF.")] = None,
    letter: Annotated[
        int | None,
        typer.Option("--letter", min=1, help="Which letter (1, 2, …; every one is kept); default: the latest."),
    ] = None,
) -> None:
    """Write a partner's landing-zone letter to a file (no worker needed for a letter already issued)."""

    async def work(e: Engine) -> tuple[OfferCard, IssuedLetter | None, bytes | None]:
        card, _ = await e.offer_card(round_id, partner.upper())
        if card.state is OfferState.APPROVED and letter is None:  # the letter is being rendered: wait for it
            card = await e.wait_for(
                round_id, partner.upper(), {OfferState.LETTER_ISSUED, OfferState.LETTER_FAILED}, timedelta(minutes=2)
            )
        _, found = await e.letter(round_id, partner.upper(), letter)
        return card, found, await e.letter_bytes(found.ref) if found else None

    card, found, data = call(work)
    if found is None or data is None:
        why = (
            f": {card.letter_failure}; once the cause is fixed, staff run 'offerdesk staff retry-letter'"
            if (card.letter_failure)
            else "; it has no letter yet"
        )
        raise fail(f"{card.partner_name}'s offer in round {round_id} is {card.state.value}{why}", 1)
    ref = found.ref
    target = output or Path(ref.filename)
    write_output(target, data)
    out.print(
        f"Wrote letter {found.number} (answering version {found.version}) to {target} "
        f"({len(data):,} bytes, {ref.pages} pages, sha256 {ref.sha256}).",
        highlight=False,
    )
