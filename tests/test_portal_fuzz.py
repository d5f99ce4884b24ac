"""schemathesis against the portal's own /openapi.json: whatever it generates, never a 5xx."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from offerdesk.engine import Engine
from schemas.portal import Role
from tests.portal import Portal, offer_in

pytestmark = pytest.mark.asyncio(loop_scope="session")
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


async def fuzz(portal: Portal, token: str, config: Path, seed: int) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        SCHEMATHESIS,
        "--config-file",
        str(config),
        "run",
        f"{portal.url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        "8",
        "--seed",
        str(seed),
        "--no-color",
        env={**os.environ, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest.mark.parametrize("role", [Role.STAFF, Role.NEGOTIATOR], ids=lambda r: r.value)
async def test_no_server_errors_for_any_generated_request(
    portal: Portal, engine: Engine, tmp_path: Path, role: Role
) -> None:
    # One run against a real round with an offer under review, so requests reach the engine, not just a 404.
    rid = await offer_in(engine, "UNDER_REVIEW", ["NO"])
    user = portal.user(role, "NO" if role is Role.NEGOTIATOR else None)
    fixed = tmp_path / "fixed.toml"
    fixed.write_text(f'[parameters]\n"path.round_id" = "{rid}"\n"path.partner" = "NO"\n')
    code, out = await fuzz(portal, user.token, fixed, seed=1)
    assert code == 0, out[-4000:]
    assert "Test cases:" in out and " passed" in out and "failed" not in out.split("Test cases:")[1]
    # And one with identifiers of schemathesis's own making.
    free = tmp_path / "free.toml"
    free.write_text("")
    code, out = await fuzz(portal, user.token, free, seed=2)
    assert code == 0, out[-4000:]
