"""The portal's Check a letter page in a real browser (Debian's Chromium, Playwright): a person chooses a letter's
PDF and reads what its signature says; the page passes axe-core before and after."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, FilePayload, expect

from offerdesk.engine import Engine
from schemas.portal import Role
from tests.browser import assert_accessible, sign_in
from tests.portal import Portal, offer_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_negotiator_checks_a_letter_and_one_changed_after_signing(
    browser: Browser, portal: Portal, engine: Engine, tmp_path: Path
) -> None:
    rid = await offer_in(engine, "LETTER_ISSUED", ["VN"])
    card, _ = await engine.offer_card(rid, "VN")
    assert card.letter is not None and card.letter.signed_by is not None
    data = await engine.letter_bytes(card.letter)
    page = await sign_in(browser, portal, portal.user(Role.NEGOTIATOR, "VN"))
    try:
        await page.goto("/")
        await page.get_by_role("link", name="Check a letter").click()
        await expect(page.get_by_role("heading", name="Check a letter")).to_be_visible()
        await assert_accessible(page, "check a letter")

        await page.get_by_label("The letter (PDF)").set_input_files(
            FilePayload(name="landing-zone.pdf", mimeType="application/pdf", buffer=data)
        )
        await page.get_by_role("button", name="Check the letter").click()
        result = page.locator(".letter-check")
        await expect(result.get_by_role("heading")).to_contain_text("landing-zone.pdf: valid")
        await expect(page.locator("#check-signer")).to_have_text(card.letter.signed_by)
        await expect(page.locator("#check-reason")).to_contain_text("unchanged since")
        await assert_accessible(page, "check a letter, a valid letter")
        await page.screenshot(path=str(tmp_path / "checked.png"), full_page=True)

        changed = data[:4000] + bytes([data[4000] ^ 1]) + data[4001:]
        await page.get_by_label("The letter (PDF)").set_input_files(
            FilePayload(name="edited.pdf", mimeType="application/pdf", buffer=changed)
        )
        await page.get_by_role("button", name="Check the letter").click()
        await expect(result.get_by_role("heading")).to_contain_text("edited.pdf: not valid")
        await expect(page.locator("#check-reason")).to_contain_text("changed")
        await assert_accessible(page, "check a letter, a changed letter")

        link = page.get_by_role("link", name="the office's certificate")
        download = await page.request.get(str(await link.get_attribute("href")))
        assert download.ok and (await download.body()).startswith(b"-----BEGIN CERTIFICATE-----")
    finally:
        await page.context.close()
