"""`offerdesk letter`: landing-zone letters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from offerdesk.cli.common import call, fail, out, write_output
from offerdesk.engine import Engine
from schemas.offer_state import OfferCard, OfferState

letter_app = typer.Typer(help="Landing-zone letters.", no_args_is_help=True)


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
            card = await e.wait_for(
                round_id, partner.upper(), {OfferState.LETTER_ISSUED, OfferState.LETTER_FAILED}, timedelta(minutes=2)
            )
        return card, await e.letter_bytes(card.letter) if card.letter else None

    card, data = call(work)
    if card.letter is None or data is None:
        why = (
            f": {card.letter_failure}; once the cause is fixed, staff run 'offerdesk staff retry-letter'"
            if (card.letter_failure)
            else "; it has no letter yet"
        )
        raise fail(f"{card.partner_name}'s offer in round {round_id} is {card.state.value}{why}", 1)
    target = output or Path(card.letter.filename)
    write_output(target, data)
    out.print(f"Wrote {target} ({len(data):,} bytes, {card.letter.pages} pages, sha256 {card.letter.sha256}).")
