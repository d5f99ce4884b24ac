"""A real browser for the portal tests: Debian's Chromium driven by Playwright, and signing in as a person does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

if TYPE_CHECKING:  # tests.portal imports conftest, which imports this module for its fixture
    from tests.portal import Portal, User

CHROMIUM = Path("/usr/bin/chromium")
# As root on a closed network: no sandbox, and none of Chromium's own calls home.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed; 'make test' installs it (apt-get install chromium)")
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield launched
        await launched.close()


async def sign_in(browser: Browser, portal: Portal, user: User) -> Page:
    from tests.portal import PASSWORD

    context = await browser.new_context(base_url=portal.url, accept_downloads=True)
    page = await context.new_page()
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Name").fill(user.name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("header .me")).to_contain_text(user.name)
    return page
