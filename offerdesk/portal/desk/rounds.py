"""Rounds, for staff: opening one, the list and the dashboard, the report, and every letter of a round at once."""

from __future__ import annotations

import asyncio
import io
import zipfile
from datetime import UTC, datetime

from offerdesk.engine import Engine, Refused
from offerdesk.people import People
from offerdesk.people.principal import Principal
from offerdesk.portal.access import Action
from offerdesk.portal.desk.base import DeskBase
from offers.reference import UnknownPartnerError, load_partners, load_policy, partner_references
from offers.report import round_report
from schemas.letter import LetterRef
from schemas.listing import OfferListing
from schemas.offer_state import OfferState
from schemas.portal import OpenRoundBody, RoundDashboard
from schemas.refusal import Refusal
from schemas.report import RoundReport
from schemas.round import RoundSpec, RoundStatus

DASHBOARD_FRESH_S = 2.0
"""How long one round's dashboard is shared between the staff who ask for it. Visibility itself lags a second
or so; a round of 600 costs the server half a second of CPU per listing, so twenty readers at once would
otherwise queue behind each other's listings."""
DASHBOARD_STALE_S = 10.0
"""While a newer listing is being made, the last one is served at once if it began at most this long ago (its
`as_of` says when), rather than every reader waiting the listing's time; an older one is waited for."""


class RoundDesk(DeskBase):
    def __init__(self, engine: Engine, people: People) -> None:
        super().__init__(engine, people)
        self._dashboards: dict[str, tuple[float, asyncio.Future[RoundDashboard]]] = {}
        self._last_dashboards: dict[str, tuple[float, RoundDashboard]] = {}

    async def rounds(self, who: Principal) -> list[str]:
        return await self._audited(who, Action.DASHBOARD, self.engine.list_rounds, quiet=True)

    async def open_round(self, who: Principal, body: OpenRoundBody) -> RoundStatus:
        async def work() -> RoundStatus:
            try:
                partners = partner_references(body.partners)
            except UnknownPartnerError as e:
                raise Refused(str(e), Refusal.UNKNOWN_PARTNER) from None
            spec = RoundSpec(**body.model_dump(exclude={"partners"}), partners=partners, opened_by=who.name)
            return await self.engine.open_round(spec)

        partners = ", ".join(body.partners)
        return await self._audited(who, Action.OPEN_ROUND, work, round_id=body.round_id, detail=partners)

    # ---- the dashboard -----------------------------------------------------------------------

    async def dashboard(self, who: Principal, round_id: str) -> RoundDashboard:
        """The round's dashboard: one listing at a time per round, shared by whoever asks within a moment.

        Once a listing is older than DASHBOARD_FRESH_S the next reader starts another; while it is made, readers
        get the last one if it is recent enough (DASHBOARD_STALE_S), and wait for the new one otherwise.
        """

        async def work() -> RoundDashboard:
            now = asyncio.get_running_loop().time()
            for rid, (at, _) in list(self._dashboards.items()):
                if now - at > DASHBOARD_FRESH_S:
                    del self._dashboards[rid]
            for rid, (at, _) in list(self._last_dashboards.items()):
                if now - at > DASHBOARD_STALE_S:
                    del self._last_dashboards[rid]
            if round_id not in self._dashboards:
                started = asyncio.ensure_future(self._dashboard(round_id))
                self._dashboards[round_id] = (now, started)
                started.add_done_callback(lambda f: self._settled(round_id, now, f))
            building = self._dashboards[round_id][1]
            if not building.done() and round_id in self._last_dashboards:
                return self._last_dashboards[round_id][1]
            return await asyncio.shield(building)

        return await self._audited(who, Action.DASHBOARD, work, round_id=round_id, quiet=True)

    def _settled(self, round_id: str, began: float, built: asyncio.Future[RoundDashboard]) -> None:
        """Keep a finished listing to serve while the next is made; a refusal or an outage is said to whoever
        asked, and never served to the next caller."""
        if built.cancelled() or built.exception() is not None:
            if self._dashboards.get(round_id, (0, None))[1] is built:
                del self._dashboards[round_id]
            return
        last = self._last_dashboards.get(round_id)
        if last is None or last[0] < began:
            self._last_dashboards[round_id] = (began, built.result())

    async def _dashboard(self, round_id: str) -> RoundDashboard:
        began = datetime.now(UTC)
        status, listing = await asyncio.gather(
            self.engine.round_status(round_id), self.engine.list_offers(round_id=round_id)
        )
        listed = {o.partner: o for o in listing}
        offers = [
            listed.get(p)
            or OfferListing(  # not yet in visibility (it lags a second or so): show what the round knows
                round_id=round_id,
                partner=p,
                state=OfferState.INVITED,
                review_deadline=None,
                workflow_id="",
                running=True,
            )
            for p in status.partners
        ]
        ready = sum(o.letter is not None for o in offers)
        return RoundDashboard(round=status, offers=offers, letters_ready=ready, as_of=began)

    # ---- the report and the letters ----------------------------------------------------------

    async def report(self, who: Principal, round_id: str, form: str) -> RoundReport:
        """The round at a glance (the round as opened, and every offer's card from visibility), to be shown as
        `form` ("page", "json", "csv", "xlsx"), which the audit records."""

        async def work() -> RoundReport:
            status, cards = await asyncio.gather(self.engine.round_status(round_id), self.engine.round_cards(round_id))
            return round_report(
                status,
                cards,
                load_partners(),
                as_of=datetime.now(UTC),
                baseline_rate_pct=load_policy().baseline_rate_pct,
            )

        what = "read a round's report"
        return await self._audited(who, Action.DASHBOARD, work, round_id=round_id, detail=f"as {form}", what=what)

    async def round_letters(self, who: Principal, round_id: str) -> tuple[bytes, int]:
        """Every issued letter of the round in one ZIP (every letter of each offer: each answers its own version,
        and is named so), and how many it holds."""

        async def work() -> tuple[bytes, int]:
            await self.engine.round_status(round_id)  # a round that does not exist says so
            cards = await self.engine.round_cards(round_id)
            refs = [x.ref for _, card in cards if card is not None for x in card.numbered_letters()]
            if not refs:
                raise Refused(f"round {round_id} has no letters yet", Refusal.NO_LETTER_YET)
            contents = [await self.engine.letter_bytes(ref) for ref in refs]
            return await asyncio.to_thread(_zip, list(zip(refs, contents, strict=True))), len(refs)

        return await self._audited(who, Action.ROUND_LETTERS, work, round_id=round_id)


def _zip(letters: list[tuple[LetterRef, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:  # PDFs are compressed already
        for ref, content in letters:
            archive.writestr(ref.filename, content)
    return buffer.getvalue()
