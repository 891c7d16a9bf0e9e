"""The deployment page's container table follows the engine without a reload."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from support.agent import running_agent
from support.compose import crash_container
from support.deployments import DeploymentFactory, service
from web.conftest import log_in


async def test_container_table_updates_live(
    tmp_path: Path, deployments: DeploymentFactory, browser: Browser, screenshots: Path
) -> None:
    site = deployments.make("livetable", {"app": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root) as handle:
        await handle.wait_listed(site.name)
        base = f"http://127.0.0.1:{handle.agent.server.port}"
        page = await browser.new_page()
        await log_in(page, base, handle.agent.token, f"/deployments/{site.name}")
        row = page.locator('[data-service="app"] tbody tr').first
        await expect(row.locator('[data-label="State"]')).to_have_text("running")

        crash_container(site.container_ids()[0])
        await expect(row.locator('[data-label="State"]')).to_contain_text(
            "exited", timeout=60_000)
        await expect(row.locator('[data-label="Exit code"]')).to_have_text("137")
        await page.screenshot(path=str(screenshots / "deployment-live-table.png"),
                              full_page=True)
