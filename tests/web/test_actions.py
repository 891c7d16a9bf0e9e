"""The deployment page's buttons in a real browser: stop (confirmed), start, diagnose, silence."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from support.agent import running_agent
from support.deployments import DeploymentFactory, service
from web.conftest import log_in


async def test_stop_needs_confirmation_and_start_brings_it_back(
    tmp_path: Path, deployments: DeploymentFactory, browser: Browser
) -> None:
    site = deployments.make("toggle", {"app": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root) as handle:
        await handle.wait_listed(site.name)
        base = f"http://127.0.0.1:{handle.agent.server.port}"
        page = await browser.new_page()
        await log_in(page, base, handle.agent.token, f"/deployments/{site.name}")
        verdict = page.locator('h1 [data-field="verdict"]')
        await expect(verdict).to_have_text("healthy")
        dialog = page.locator("#stop-dialog")

        await page.get_by_role("button", name="Stop", exact=True).click()
        await expect(dialog).to_be_visible()
        await expect(dialog).to_contain_text("leave it stopped")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_be_hidden()
        desired = await handle.desired(site.name)
        assert desired is not None and desired["state"] == "running"
        assert site.states() == {"app": "running"}

        await page.get_by_role("button", name="Stop", exact=True).click()
        await dialog.get_by_role("button", name=f"Stop {site.name}").click()
        await expect(page.locator(".flash")).to_contain_text("leaves it stopped", timeout=60_000)
        desired = await handle.desired(site.name)
        assert desired is not None
        assert (desired["state"], desired["source"]) == ("stopped", "web")
        assert site.states() == {"app": "exited"}
        await expect(verdict).to_have_text("stopped", timeout=15_000)
        # Stopped and meant to be: the live page stops offering Stop and Restart, and so
        # does the page rendered now (not mid-stop).
        for button in ("Stop", "Restart"):
            await expect(page.get_by_role("button", name=button, exact=True)).to_have_count(
                0, timeout=15_000)
        await page.reload()
        await expect(verdict).to_have_text("stopped")
        for button in ("Stop", "Restart"):
            await expect(page.get_by_role("button", name=button, exact=True)).to_have_count(0)

        await page.get_by_role("button", name="Start", exact=True).click()
        await expect(page.locator(".flash")).to_contain_text("keeps it running", timeout=60_000)
        desired = await handle.desired(site.name)
        assert desired is not None
        assert (desired["state"], desired["source"]) == ("running", "web")
        assert site.states() == {"app": "running"}
        await expect(verdict).to_have_text("healthy", timeout=15_000)
        # Running as meant: nothing to start; restart and stop are offered again, live.
        await expect(page.get_by_role("button", name="Start", exact=True)).to_have_count(
            0, timeout=15_000)
        await expect(page.get_by_role("button", name="Stop", exact=True)).to_have_count(1)
        await expect(page.get_by_role("button", name="Restart", exact=True)).to_have_count(1)

        await page.get_by_role("button", name="Diagnose").click()
        await expect(page.get_by_role("heading", name="Diagnosis")).to_be_visible(timeout=30_000)
        await expect(page.locator("#diagnosis")).to_contain_text("No action suggested")

        await page.get_by_label("Silence notifications for").fill("3")
        await page.get_by_role("button", name="Silence", exact=True).click()
        await expect(page.locator(".flash")).to_contain_text("silenced until")
        silences = (await handle.get("/api/silences"))["items"]
        assert [s["deployment"] for s in silences] == [site.name]
