"""Staff read decoded payloads in the Temporal UI through the portal's codec endpoint, as the README says to.

A real Chromium signs in to the portal as staff, then opens a workflow in the dev server's own Web UI. With the
cluster-level codec setting the UI's calls go without credentials and the portal answers 401: the input stays
sealed. Following README "Operating Offerdesk" (the Codec Server dialog: the browser's own setting, the portal's
endpoint, "Include cross-origin credentials"), the calls answer 200 and the input shows decoded.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Browser, Response, expect
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from offerdesk.config import Settings
from offerdesk.devserver import DevServer, free_port
from offers.reference import partner_references
from schemas.portal import Role
from schemas.round import RoundSpec
from tests.browser import sign_in
from tests.portal import Portal, start_portal

pytestmark = pytest.mark.asyncio(loop_scope="session")
SEALED_PARTNER = "Vietnam"
"""Shown only when the round's input is decoded: search attributes carry codes, never partners' names."""


async def test_staff_follow_the_readme_and_read_a_decoded_input_in_the_temporal_ui(
    browser: Browser, env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    ui_port = free_port()
    async for portal in start_portal(env, settings, OFFERDESK_UI_ORIGINS=f"http://127.0.0.1:{ui_port}"):
        server = DevServer(tmp_path / "home", free_port(), ui_port, codec_endpoint=f"{portal.url}/codec")
        server.start()
        try:
            await _follow_the_readme(browser, portal, server, settings, tmp_path.name[-8:])
        finally:
            server.stop()


async def _follow_the_readme(browser: Browser, portal: Portal, server: DevServer, settings: Settings, tag: str) -> None:
    codec = f"{portal.url}/codec"
    assert await asyncio.to_thread(server.ui_ready), "the Web UI did not reach its frontend within a minute"
    client = await Client.connect(f"127.0.0.1:{server.port}", data_converter=settings.converter())
    spec = RoundSpec(
        round_id=f"ui-{tag}",
        partners=partner_references(["VN"]),
        deadline=datetime.now(UTC) + timedelta(hours=1),
        review_window=timedelta(hours=1),
    )
    # No worker needed: the input is in the workflow's first event, sealed by the session's keyring.
    handle = await client.start_workflow("RoundWorkflow", spec, id=f"round/{spec.round_id}", task_queue="none")
    page = await sign_in(browser, portal, portal.user(Role.STAFF))
    answers: list[int] = []

    def codec_answer(response: Response) -> None:
        if response.url.startswith(codec) and response.request.method == "POST":
            answers.append(response.status)

    page.on("response", codec_answer)
    workflow = f"{quote(handle.id, safe='')}/{handle.result_run_id}"
    await page.goto(f"{server.ui_url}/namespaces/default/workflows/{workflow}/history")
    await expect(page.get_by_text(handle.id).first).to_be_visible(timeout=30_000)
    for _ in range(100):
        if answers:
            break
        await page.wait_for_timeout(100)
    assert answers and set(answers) == {401}, answers  # the cluster's setting: no credentials go along
    await expect(page.get_by_text(SEALED_PARTNER)).to_have_count(0)

    # README, Operating Offerdesk: "Staff see decoded payloads in the Temporal UI".
    # The icon at the top right (the glasses) says "Codec Server could not connect" while the calls fail.
    await page.get_by_role("button", name="Codec Server could not connect").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_role("heading", name="Codec Server")).to_be_visible()
    await dialog.get_by_text("Use my browser setting and ignore Cluster-level setting.").click()
    await dialog.get_by_label("Codec Server browser endpoint").fill(codec)
    await dialog.get_by_text("Include cross-origin credentials").click()
    await expect(dialog.get_by_role("switch", name="Include cross-origin credentials")).to_be_checked()
    await expect(dialog.get_by_role("switch", name="Pass the user access token")).not_to_be_checked()
    answers.clear()
    await dialog.get_by_role("button", name="Apply").click()
    await expect(dialog).to_be_hidden()
    await page.reload()  # the page already shown keeps its sealed payloads until it is loaded again
    await expect(page.get_by_text(SEALED_PARTNER).first).to_be_visible(timeout=30_000)
    assert answers and set(answers) == {200}, answers
    await expect(page.get_by_role("button", name="Codec Server could not connect")).to_have_count(0)
    await page.context.close()
