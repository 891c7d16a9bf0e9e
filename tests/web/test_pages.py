"""The events and notifications pages in a real browser: filters, paging, channels, tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from playwright.async_api import Browser, expect

from stackmedic.notify import NotificationEvent
from stackmedic.types import EventKind
from support.agent import running_agent
from support.servers import HttpReceiver
from support.wait import async_wait_until
from web.conftest import log_in

SECRET = "hook-secret-value-123"


async def test_events_filter_and_page_and_a_test_notification_is_sent(
    tmp_path: Path, browser: Browser, receiver: HttpReceiver, screenshots: Path
) -> None:
    (tmp_path / "deployments").mkdir()
    channel = {"type": "webhook", "url": f"{receiver.url}/hook", "secret": SECRET}
    notifications = {"channels": {"team": channel}, "group_window_seconds": 0}
    async with running_agent(tmp_path / "data", tmp_path / "deployments",
                             notifications=notifications) as handle:
        for n in range(70):
            handle.agent.events.record(EventKind.ACTION, f"note {n}", deployment="paged",
                                       severity="warning" if n % 2 else "info")
        base = f"http://127.0.0.1:{handle.agent.server.port}"
        page = await browser.new_page()
        await page.goto(f"{base}/events")
        await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        await page.screenshot(path=screenshots / "login.png", full_page=True)
        await log_in(page, base, handle.agent.token, "/events")

        await page.get_by_label("Kind").select_option("action")
        await page.get_by_label("Severity").select_option("warning")
        await page.get_by_role("button", name="Show").click()
        rows = page.locator("tbody tr")
        await expect(rows).to_have_count(35)
        await expect(rows.first).to_contain_text("note 69")
        await expect(page.get_by_role("link", name="Older →")).to_have_count(0)

        await page.get_by_label("Severity").select_option("")
        await page.get_by_role("button", name="Show").click()
        await expect(rows).to_have_count(50)
        await page.get_by_role("link", name="Older →").click()
        await expect(rows).to_have_count(20)
        await expect(rows.first).to_contain_text("note 19")
        await expect(page.get_by_label("Kind")).to_have_value("action")
        await page.screenshot(path=screenshots / "events.png", full_page=True)

        await handle.agent.notifier.submit(NotificationEvent(
            kind="ill-health", severity="critical", deployment="paged", service="web",
            title="web exited with code 137", summary="killed",
            occurred_at=datetime.now(UTC),
        ))
        await async_wait_until(receiver.accepted, 10, message="notification delivered")
        await page.get_by_role("link", name="Notifications").click()
        recent = page.get_by_role("table")
        await expect(recent).to_contain_text("web exited with code 137")
        await expect(recent).to_contain_text("team: sent")
        channels = page.get_by_role("region", name="Channels")
        await expect(channels).to_contain_text(f"{receiver.url}/hook")
        await expect(channels).to_contain_text("****")
        assert SECRET not in await page.content()
        await page.get_by_role("button", name="Send test to team").click()
        await expect(page.locator(".flash")).to_contain_text("Test sent to team")
        sent = await async_wait_until(
            lambda: receiver.accepted()[1:], 10, message="test delivered"
        )
        assert sent[0].path == "/hook"
        await page.screenshot(path=screenshots / "notifications.png", full_page=True)

        missing = await page.goto(f"{base}/no/such/page")
        assert missing is not None and missing.status == 404
        await expect(page.locator("main")).to_contain_text("There is no page at this address.")
        await page.screenshot(path=screenshots / "not-found.png", full_page=True)
