"""The staff dashboard's shared listing: one listing at a time per round, the last one served while the next is
made (if recent), never an error served to the next reader.

The engine here is a stand-in that counts listings and takes a moment over each; the real listing is covered by
tests/test_portal_api.py against the dev server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from offerdesk.engine import Engine, Refused
from offerdesk.people import open_people
from offerdesk.people.principal import Principal
from offerdesk.portal.desk import Desk
from offerdesk.portal.desk import rounds as desk_module
from schemas.listing import OfferListing
from schemas.portal import Role
from schemas.refusal import Refusal
from schemas.round import RoundStatus

pytestmark = pytest.mark.asyncio(loop_scope="function")

STAFF = Principal(name="sam", role=Role.STAFF, partner=None, via="token")
LISTING_S = 0.2


class CountingEngine:
    """Lists one offer whose state the test sets; each listing takes LISTING_S."""

    def __init__(self) -> None:
        self.state = "INVITED"
        self.listings = 0
        self.refuse = False

    async def round_status(self, round_id: str) -> RoundStatus:
        now = datetime.now(UTC)
        return RoundStatus(
            round_id=round_id,
            deadline=now + timedelta(hours=1),
            review_window=timedelta(hours=1),
            approvals_required=2,
            partners=["JP"],
            opened_at=now,
            started=True,
        )

    async def list_offers(self, round_id: str | None = None, **_: Any) -> list[OfferListing]:
        self.listings += 1
        state = self.state
        await asyncio.sleep(LISTING_S)
        if self.refuse:
            raise Refused("round r does not exist", Refusal.NO_ROUND)
        return [
            OfferListing(
                round_id=round_id or "", partner="JP", state=state, review_deadline=None, workflow_id="w", running=True
            )
        ]


@pytest.fixture
def desk(monkeypatch: pytest.MonkeyPatch, database: str) -> tuple[Desk, CountingEngine]:
    monkeypatch.setattr(desk_module, "DASHBOARD_FRESH_S", 0.3)
    monkeypatch.setattr(desk_module, "DASHBOARD_STALE_S", 1.5)
    engine = CountingEngine()
    return Desk(cast(Engine, engine), open_people(database)), engine


async def test_readers_at_once_share_one_listing(desk: tuple[Desk, CountingEngine]) -> None:
    d, engine = desk
    boards = await asyncio.gather(*(d.dashboard(STAFF, "r") for _ in range(20)))
    assert engine.listings == 1
    assert all(b.offers[0].state == "INVITED" and b.as_of is not None for b in boards)


async def test_the_last_listing_is_served_at_once_while_a_newer_one_is_made(desk: tuple[Desk, CountingEngine]) -> None:
    d, engine = desk
    first = await d.dashboard(STAFF, "r")
    engine.state = "UNDER_REVIEW"
    await asyncio.sleep(0.4)  # past DASHBOARD_FRESH_S, within DASHBOARD_STALE_S

    loop = asyncio.get_running_loop()
    start = loop.time()
    served = await d.dashboard(STAFF, "r")
    assert loop.time() - start < LISTING_S / 2, "the reader waited for the new listing"
    assert served.offers[0].state == "INVITED" and served.as_of == first.as_of
    await asyncio.sleep(0.05)  # the new listing has begun, not ended
    assert engine.listings == 2  # and a new listing began

    await asyncio.sleep(LISTING_S)
    fresh = await d.dashboard(STAFF, "r")
    assert fresh.offers[0].state == "UNDER_REVIEW"
    assert fresh.as_of is not None and first.as_of is not None and fresh.as_of > first.as_of
    assert engine.listings == 2


async def test_a_listing_too_old_to_serve_is_waited_for(desk: tuple[Desk, CountingEngine]) -> None:
    d, engine = desk
    await d.dashboard(STAFF, "r")
    engine.state = "LETTER_ISSUED"
    await asyncio.sleep(1.6)  # past DASHBOARD_STALE_S
    board = await d.dashboard(STAFF, "r")
    assert board.offers[0].state == "LETTER_ISSUED"
    assert engine.listings == 2


async def test_a_refusal_reaches_its_reader_and_is_never_served_again(desk: tuple[Desk, CountingEngine]) -> None:
    d, engine = desk
    engine.refuse = True
    with pytest.raises(Refused):
        await d.dashboard(STAFF, "r")
    engine.refuse = False
    board = await d.dashboard(STAFF, "r")  # at once, not the refusal shared for DASHBOARD_FRESH_S
    assert board.offers[0].state == "INVITED"
    assert engine.listings == 2
