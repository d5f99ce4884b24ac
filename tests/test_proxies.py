"""Forwarded headers are believed only from the proxies named in OFFERDESK_TRUSTED_PROXIES (none by default)."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.people.throttle import ADDRESS_LIMIT
from tests.portal import Portal, start_portal

pytestmark = pytest.mark.asyncio(loop_scope="session")
ATTEMPTS = ADDRESS_LIMIT + 5


async def failed_signins(portal: Portal) -> list[int]:
    """Wrong passwords for ATTEMPTS different names, each claiming another address; the statuses answered."""
    statuses = []
    async with httpx.AsyncClient(base_url=portal.url, timeout=30) as client:
        csrf = (await client.get("/signin")).cookies["offerdesk_signin_csrf"]
        for i in range(ATTEMPTS):
            answer = await client.post(
                "/signin",
                data={"name": f"nobody{i}", "password": "wrong", "csrf": csrf, "next": "/"},
                headers={"Cookie": f"offerdesk_signin_csrf={csrf}", "X-Forwarded-For": f"203.0.113.{i + 1}"},
            )
            statuses.append(answer.status_code)
    return statuses


async def test_a_made_up_forwarded_for_neither_escapes_the_throttle_nor_enters_the_audit_log(
    env: WorkflowEnvironment, settings: Settings, database: str
) -> None:
    alone = replace(settings, database_url=database)
    async for portal in start_portal(env, alone):
        statuses = await failed_signins(portal)
        records = portal.people.audit.records()
    assert statuses[:ADDRESS_LIMIT] == [401] * ADDRESS_LIMIT and set(statuses[ADDRESS_LIMIT:]) == {429}, statuses
    details = {r.detail for r in records if r.action == "sign in"}
    assert details == {"from 127.0.0.1"}, details


async def test_a_trusted_proxy_names_the_client(env: WorkflowEnvironment, settings: Settings, database: str) -> None:
    behind = replace(settings, database_url=database)
    async for portal in start_portal(env, behind, OFFERDESK_TRUSTED_PROXIES="127.0.0.1"):
        statuses = await failed_signins(portal)
        records = portal.people.audit.records()
    assert statuses == [401] * ATTEMPTS, statuses  # each address failed once: none is throttled
    details = {r.detail for r in records if r.action == "sign in"}
    assert details == {f"from 203.0.113.{i + 1}" for i in range(ATTEMPTS)}, details
