"""An offer's letters as callers read them: every one numbered from 1 and kept, and its PDF from the store.

A letter answers one version; a counter-offer brings the next letter, never a replacement, so letter 1 reads the
same after letter 3 as the day it was issued (the store is content-addressed: its id is the PDF's SHA-256).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from activities.store import DamagedObjectError, Kind, NotInStoreError, ObjectStore, StoreError
from offerdesk.engine.errors import EngineUnavailable, Refused, guarded
from schemas.letter import LetterRef
from schemas.offer_state import ClosedRun, IssuedLetter, OfferCard
from schemas.refusal import Refusal


class Letters:
    """The Engine's letters: mixed into it, which gives the store and the offer's card."""

    store: ObjectStore

    def offer_card(self, round_id: str, partner: str) -> Awaitable[tuple[OfferCard, ClosedRun | None]]:
        raise NotImplementedError  # the Engine's

    @guarded
    async def letter(
        self, round_id: str, partner: str, number: int | None = None
    ) -> tuple[OfferCard, IssuedLetter | None]:
        """Letter `number` of the offer (the latest by default; None if it has none yet), with the offer's card."""
        card, _ = await self.offer_card(round_id, partner)
        letters = card.numbered_letters()
        if number is None:
            return card, letters[-1] if letters else None
        found = next((x for x in letters if x.number == number), None)
        if found is None:
            have = f"letters 1 to {len(letters)}" if len(letters) > 1 else f"{len(letters) or 'no'} letter"
            raise Refused(
                f"the offer of {card.partner_name} in round {round_id} has {have}; there is no letter {number}",
                Refusal.NO_SUCH_LETTER,
            )
        return card, found

    async def letter_bytes(self, ref: LetterRef) -> bytes:
        """An issued letter's PDF from the store; a missing one is a sentence about sharing the store."""
        try:
            return await asyncio.to_thread(self.store.get, Kind.LETTER, ref.letter_id)
        except (NotInStoreError, DamagedObjectError) as e:
            raise Refused(
                f"letter {ref.filename} was issued, but {e}; the portal, the CLI and the workers must share "
                "OFFERDESK_STORE_URL",
                Refusal.LETTER_MISSING,
            ) from None
        except StoreError as e:
            raise EngineUnavailable(str(e)) from None
