"""A real browser for the portal tests: Debian's Chromium driven by Playwright, and signing in as a person does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
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


# axe-core as the package bundles it (nothing is fetched): WCAG 2.0, 2.1 and 2.2 at levels A and AA, and Deque's
# best practices. axe has no "wcag22a" tag: WCAG 2.2's new level-A criteria have no automatic rule.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """What axe-core finds wrong on the page as it is now."""
    results = await Axe().run(page, options=AXE_OPTIONS)
    violations: list[dict[str, Any]] = results.response["violations"]
    return violations


def describe_violations(where: str, violations: list[dict[str, Any]]) -> str:
    """Each rule broken, with where to read about it and every element that breaks it, for a person to act on."""
    lines = [f"{where}: axe-core found {len(violations)} rule(s) broken"]
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['html']}")
            if node.get("failureSummary"):
                lines.extend(f"      {s}" for s in node["failureSummary"].splitlines())
    return "\n".join(lines)


async def assert_accessible(page: Page, where: str) -> None:
    violations = await axe_violations(page)
    assert not violations, describe_violations(where, violations)
