"""A read-only login in a real browser: every page shows, no action is offered."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from support.agent import running_agent
from support.deployments import DeploymentFactory, service
from web.conftest import log_in


async def test_read_only_login_sees_everything_and_can_act_on_nothing(
    tmp_path: Path, deployments: DeploymentFactory, browser: Browser, screenshots: Path
) -> None:
    site = deployments.make("lookonly", {"app": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root) as handle:
        await handle.wait_listed(site.name)
        base = f"http://127.0.0.1:{handle.agent.server.port}"
        read_token = handle.agent.settings.resolved_read_token_file.read_text().strip()
        page = await browser.new_page()
        await log_in(page, base, read_token, f"/deployments/{site.name}")
        await expect(page.locator('h1 [data-field="verdict"]')).to_have_text("healthy")
        await expect(page.get_by_text("read-only token: actions are hidden")).to_be_visible()
        for name in ("Start", "Stop", "Restart", "Diagnose", "Silence"):
            await expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
        await page.screenshot(path=str(screenshots / "deployment-read-only.png"), full_page=True)
        await page.goto(base + "/notifications")
        await expect(page.get_by_role("button", name="Send test to every channel")).to_have_count(0)
        desired = await handle.desired(site.name)
        assert desired is not None and desired["state"] == "running"
