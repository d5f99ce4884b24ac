"""schemathesis against the portal's own /openapi.json: whatever it generates, never a 5xx, and every answer as the
document declares it (status, content type, headers, body schema)."""

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
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",  # every status the portal answers is one the document declares
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",  # bodies, refusals included, as their declared schemas say
    "negative_data_rejection",  # a request the schema rules out is refused (4xx)
    "missing_required_header",  # a request without a header the document requires is refused
    "ignored_auth",  # without the token, or with a wrong one: 401, never served
    "unsupported_method",  # an undeclared method: 405 with Allow
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
)
"""Every check schemathesis has but two. `positive_data_acceptance` expects a 2xx for any request the schema allows,
and the portal refuses many of those on rules no schema says (a deadline in the past, a partner with no reference
figures, an offer document that fails validation, a user who exists already): 422 or 409, each with a sentence.
`object_level_authorization` replays one identity's reads as its peers, and these runs have one identity each (a
token in a header): who may read what across roles and partners is tested in test_portal_security.py."""
FIXED_CHECKS = tuple(c for c in CHECKS if c != "negative_data_rejection")
"""With the path's round and partner fixed to a real offer, schemathesis's own invalid values for them (a partner
that does not match ^[A-Z]{2}$) are replaced by the valid fixed ones: it would report its own substitution. The
run with identifiers of its own making checks rejection."""


async def fuzz(portal: Portal, token: str, config: Path, seed: int, checks: tuple[str, ...]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        SCHEMATHESIS,
        "--config-file",
        str(config),
        "run",
        f"{portal.url}/openapi.json",
        "--checks",
        ",".join(checks),
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
async def test_no_server_error_and_every_answer_as_documented_for_any_generated_request(
    portal: Portal, engine: Engine, tmp_path: Path, role: Role
) -> None:
    # One run against a real round with an offer under review, so requests reach the engine, not just a 404.
    rid = await offer_in(engine, "UNDER_REVIEW", ["NO"])
    user = portal.user(role, "NO" if role is Role.NEGOTIATOR else None)
    fixed = tmp_path / "fixed.toml"
    fixed.write_text(f'[parameters]\n"path.round_id" = "{rid}"\n"path.partner" = "NO"\n')
    code, out = await fuzz(portal, user.token, fixed, seed=1, checks=FIXED_CHECKS)
    assert code == 0, out[-4000:]
    assert "Test cases:" in out and " passed" in out and "failed" not in out.split("Test cases:")[1]
    # And one with identifiers of schemathesis's own making.
    free = tmp_path / "free.toml"
    free.write_text("")
    code, out = await fuzz(portal, user.token, free, seed=2, checks=CHECKS)
    assert code == 0, out[-4000:]
