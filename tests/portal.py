"""The portal as its users reach it: a real `offerdesk portal` process on a real port, with real users and tokens."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from benchmarks.portal import portal_answering
from offerdesk.config import Settings
from offerdesk.devserver import free_port
from offerdesk.engine import Engine
from offerdesk.people import People, open_people
from offerdesk.samples import sample_offer
from schemas.offer_state import OfferState
from schemas.portal import Role
from schemas.review import Approve
from tests.conftest import round_spec

OFFERDESK = str(Path(sys.executable).parent / "offerdesk")
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Portal:
    url: str
    people: People

    def user(self, role: Role, partner: str | None = None) -> User:
        """A new user with its own API token."""
        name = f"{role.value[:3]}-{uuid.uuid4().hex[:8]}"
        self.people.users.add(name, role, PASSWORD, partner)
        return User(name, role, partner, self.people.tokens.create(name, "tests", "tests").token, self)


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    partner: str | None
    token: str
    portal: Portal

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.portal.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    async def browser_session(self) -> tuple[httpx.AsyncClient, str]:
        """Sign in through the form as a browser would; returns a client carrying the cookie, and the CSRF token.

        httpx keeps Secure cookies for https only, so the session cookie is passed on by hand.
        """
        client = httpx.AsyncClient(base_url=self.portal.url, timeout=60)
        page = await client.get("/signin")
        signin_csrf = page.cookies["offerdesk_signin_csrf"]
        answer = await client.post(
            "/signin",
            data={"name": self.name, "password": PASSWORD, "csrf": signin_csrf, "next": "/"},
            headers={"Cookie": f"offerdesk_signin_csrf={signin_csrf}"},
        )
        assert answer.status_code == 303, answer.text
        jar: SimpleCookie = SimpleCookie()
        for header in answer.headers.get_list("set-cookie"):
            jar.load(header)
        session = jar["offerdesk_session"].value
        client.headers["Cookie"] = f"offerdesk_session={session}"
        principal = self.portal.people.sessions.principal(session)
        assert principal is not None
        return client, principal.csrf


async def start_portal(
    env: WorkflowEnvironment, settings: Settings, log: Path | None = None, **extra: str
) -> AsyncIterator[Portal]:
    """A real `offerdesk portal` process on a free port; `extra` adds to its environment, `log` takes its stderr."""
    port = free_port()
    environ = {
        **os.environ,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "OFFERDESK_HOME": str(settings.home),
        "OFFERDESK_DATABASE_URL": settings.database,
        **extra,
    }
    errors = log.open("ab") if log is not None else None
    process = await asyncio.create_subprocess_exec(
        OFFERDESK,
        "portal",
        "--port",
        str(port),
        env=environ,
        stdout=errors or asyncio.subprocess.DEVNULL,
        stderr=errors,
    )
    url = f"http://127.0.0.1:{port}"
    await portal_answering(url, process, within_s=30)
    try:
        yield Portal(url, open_people(settings.database))
    finally:
        process.terminate()
        await process.wait()
        if errors is not None:
            errors.close()


async def offer_in(engine: Engine, state: str, partners: list[str], approvals: int = 2) -> str:
    """A new round whose offers (all of `partners`) are brought to `state` through the engine; its id."""
    spec = round_spec(partners, approvals=approvals)
    await engine.open_round(spec)
    rid = spec.round_id
    for code in partners:
        if state == "INVITED":
            continue
        await engine.submit(sample_offer(rid, code, lines=6, seed=3), by="negotiator")
        if state == "LETTER_ISSUED":
            for reviewer in ("Prep One", "Prep Two")[:approvals]:
                await engine.approve(rid, code, Approve(reviewer=reviewer, version=1))
            await engine.wait_for(rid, code, {OfferState.LETTER_ISSUED}, timeout=timedelta(minutes=2))
    return rid
