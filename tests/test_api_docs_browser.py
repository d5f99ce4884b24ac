"""The API's documentation, /docs (Swagger UI) and /redoc (ReDoc), from the portal's own files under its one CSP:
in a real browser (Debian's Chromium, driven by Playwright), with nothing fetched from anywhere else."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page

from offerdesk.portal.apidocs import REDOC, vendor_folder
from offerdesk.portal.security import CSP
from tests.portal import Portal

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Every violation of the page's policy, whether or not the browser also logs it.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


async def spec(portal: Portal) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=portal.url) as client:
        document: dict[str, Any] = (await client.get("/openapi.json")).json()
    return document


async def open_page(browser: Browser, portal: Portal, path: str) -> tuple[Page, list[str], list[str]]:
    """The page, what the console and the page's errors said, and every request made outside the portal."""
    context = await browser.new_context(base_url=portal.url)
    await context.add_init_script(RECORD_VIOLATIONS)
    page = await context.new_page()
    said: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda m: said.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: said.append(f"page error: {e}"))
    page.on("request", lambda r: None if r.url.startswith(portal.url) else elsewhere.append(r.url))
    answer = await page.goto(path)
    assert answer is not None and answer.status == 200
    assert answer.headers["content-security-policy"] == CSP
    return page, said, elsewhere


async def test_swagger_ui_lists_every_operation_offline_under_the_portals_csp(browser: Browser, portal: Portal) -> None:
    document = await spec(portal)
    paths = {path for path, item in document["paths"].items() for method in item}
    operations = sum(len(item) for item in document["paths"].values())
    page, said, elsewhere = await open_page(browser, portal, "/docs")
    await page.wait_for_function(f"document.querySelectorAll('.opblock').length >= {operations}", timeout=30_000)
    shown = await page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.dataset.path)")
    assert set(shown) == paths and len(shown) == operations
    await page.locator('.opblock-summary-path[data-path="/api/me"]').first.click()  # it works, not just draws
    await page.wait_for_selector(".opblock.is-open")
    assert await page.evaluate("window.cspViolations") == []
    assert said == [] and elsewhere == []
    await page.context.close()


async def test_redoc_lists_every_operation_offline_under_the_portals_csp(browser: Browser, portal: Portal) -> None:
    document = await spec(portal)
    ids = {operation["operationId"] for item in document["paths"].values() for operation in item.values()}
    page, said, elsewhere = await open_page(browser, portal, "/redoc")
    await page.wait_for_selector("[data-section-id*='/operation/']", timeout=30_000)
    sections = await page.eval_on_selector_all(
        "[data-section-id*='/operation/']", "els => els.map(e => e.dataset.sectionId)"
    )
    assert {section.rsplit("/operation/", 1)[1] for section in sections} == ids
    # ReDoc's styles are applied (the CSP lets its two <style> elements through by their digests).
    assert await page.evaluate("[...document.styleSheets].reduce((n, s) => n + s.cssRules.length, 0)") > 100
    assert await page.evaluate("window.cspViolations") == []
    assert said == [] and elsewhere == []
    await page.context.close()


SCRIPT_OR_STYLE = re.compile(r"<(script|link)\b([^>]*)>", re.IGNORECASE)
ATTRIBUTE = re.compile(r'(\w[\w-]*)="([^"]*)"')


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_the_documentation_pages_name_only_the_portals_own_files_each_with_its_digest(
    portal: Portal, path: str
) -> None:
    async with httpx.AsyncClient(base_url=portal.url) as client:
        page = (await client.get(path)).text
        assert "//" not in page  # no address elsewhere, with a scheme or without
        assert "<style" not in page.lower() and " style=" not in page.lower()
        tags = SCRIPT_OR_STYLE.findall(page)
        assert {tag.lower() for tag, _ in tags} == {"script", "link"}
        for tag, attributes in tags:
            named = dict(ATTRIBUTE.findall(attributes))
            url = named.get("src") or named["href"]
            assert url.startswith("/static/docs/"), url
            if tag == "script" or named.get("rel") == "stylesheet":  # every script has a source: none is inline
                served = await client.get(url)
                assert served.status_code == 200
                digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
                assert named["integrity"] == f"sha384-{digest}", url


async def test_swagger_ui_and_redoc_are_the_packages_files(portal: Portal) -> None:
    """As fastapi-offline ships them; ReDoc's bundle with only its logo's CDN address taken out."""
    async with httpx.AsyncClient(base_url=portal.url) as client:
        for name in ("swagger-ui-bundle.js", "swagger-ui.css", REDOC):
            served = (await client.get(f"/static/docs/{name}")).content
            shipped = (vendor_folder() / name).read_bytes()
            if name == REDOC:
                assert b"cdn.redoc.ly" in shipped and b"cdn.redoc.ly" not in served
                assert len(shipped) - len(served) == len("https://cdn.redoc.ly/redoc/logo-mini.svg")
            else:
                assert served == shipped
