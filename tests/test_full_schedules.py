"""A full national tariff schedule (15,000 lines, over 2 MB) goes through the CLI and the portal."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.engine import Engine
from offerdesk.samples import sample_offer
from schemas.portal import Role
from tests.commands import cli
from tests.portal import Portal, offer_in

pytestmark = pytest.mark.asyncio(loop_scope="session")
OFFERDESK = str(Path(sys.executable).parent / "offerdesk")
LINES = 15_000


async def test_the_cli_submits_a_full_schedule(
    engine: Engine, env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    rid = await offer_in(engine, "INVITED", ["KZ"])
    path = tmp_path / "schedule.json"
    path.write_text(sample_offer(rid, "KZ", lines=LINES, seed=4).model_dump_json(indent=1))
    assert path.stat().st_size > 2 * 1024 * 1024
    code, out, err = await cli(env, settings, "offer", "submit", str(path))
    assert code == 0, err
    assert "accepted as version 1: UNDER_REVIEW" in out
    card, _ = await engine.offer_card(rid, "KZ")
    assert card.versions[0].summary is not None and card.versions[0].summary.tariff_lines == LINES


async def test_the_portal_takes_a_full_schedule_as_json_and_as_an_upload(portal: Portal, engine: Engine) -> None:
    rid = await offer_in(engine, "INVITED", ["MY"])
    negotiator = portal.user(Role.NEGOTIATOR, "MY")
    body = sample_offer(rid, "MY", lines=LINES, seed=5).model_dump_json().encode()
    async with negotiator.api() as api:
        url = f"/api/rounds/{rid}/offers/MY/versions"
        first = await api.post(url, content=body, headers={"Content-Type": "application/json"})
        assert first.status_code == 201, first.text
        assert first.json()["state"] == "UNDER_REVIEW" and first.json()["version"] == 1
        amended = sample_offer(rid, "MY", lines=LINES, seed=6).model_dump_json().encode()
        second = await api.post(url + "/upload", files={"file": ("schedule.json", amended, "application/json")})
        assert second.status_code == 201, second.text
        assert second.json()["version"] == 2
    card, _ = await engine.offer_card(rid, "MY")
    assert [v.size > 2_000_000 for v in card.versions] == [True, True]
