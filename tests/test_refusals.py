"""Every refusal kind has an exit code and an HTTP status: a kind added without them fails here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from offerdesk.cli.common import EXIT_CODES, OUTAGE
from offerdesk.portal.errors import KIND_STATUS
from schemas.portal import OpenRoundBody
from schemas.refusal import Refusal
from schemas.round import RoundSpec


def test_every_kind_has_an_exit_code() -> None:
    missing = [k for k in Refusal if k not in EXIT_CODES]
    assert not missing, f"refusal kinds with no exit code in offerdesk/cli/common.py: {missing}"
    assert all(code in (1, 2) for code in EXIT_CODES.values()), "a refusal is never an outage"
    assert OUTAGE not in EXIT_CODES.values()


def test_every_kind_has_an_http_status() -> None:
    missing = [k for k in Refusal if k not in KIND_STATUS]
    assert not missing, f"refusal kinds with no HTTP status in offerdesk/portal/errors.py: {missing}"
    assert all(400 <= status < 600 for status in KIND_STATUS.values())


def test_an_unknown_kind_is_a_plain_refusal() -> None:
    assert Refusal.of("OfferClosed") is Refusal.OFFER_CLOSED
    assert Refusal.of("SomethingNewer") is Refusal.REFUSED
    assert Refusal.of(None) is Refusal.REFUSED


@pytest.mark.parametrize("window", [timedelta(days=365), timedelta(0), timedelta(seconds=-1)])
def test_the_engine_and_the_portal_refuse_the_same_review_windows(window: timedelta) -> None:
    deadline = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(ValidationError, match="review_window"):
        RoundSpec.model_validate({"round_id": "r1", "partners": [], "deadline": deadline, "review_window": window})
    with pytest.raises(ValidationError, match="review_window"):
        OpenRoundBody(round_id="r1", partners=["JP"], deadline=deadline, review_window=window)
