"""The notifications page in a real browser: a reviewer finds it in the nav and turns reminders off."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from schemas.portal import Role
from tests.browser import sign_in
from tests.portal import Portal

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_reviewer_turns_reminders_off(browser: Browser, portal: Portal) -> None:
    reviewer = portal.user(Role.REVIEWER)
    page = await sign_in(browser, portal, reviewer)
    await page.get_by_role("navigation").get_by_role("link", name="Notifications").click()
    await expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    await expect(page.locator("#notify-address")).to_contain_text("ask staff to set one")
    await expect(page.locator("#reminders-state")).to_have_text("on")
    await expect(page.get_by_role("cell", name="No notices yet.")).to_be_visible()

    reminders = page.get_by_role("group", name="Send me reminders")
    await reminders.get_by_label("Off").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".flash.ok")).to_contain_text("reminders are off")
    await expect(page.locator("#reminders-state")).to_have_text("off")
    await expect(reminders.get_by_label("Off")).to_be_checked()
    user = portal.people.users.get(reviewer.name)
    assert user is not None and not user.reminders
    await page.context.close()
