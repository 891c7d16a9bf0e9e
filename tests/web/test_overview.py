"""The overview and deployment pages in a real browser against a real agent and engine."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, expect

from support.agent import AgentHandle, running_agent
from support.compose import crash_container
from support.deployments import DeploymentFactory, service
from support.wait import async_wait_until
from web.conftest import DESKTOP, PHONE, log_in

FAST_SAMPLES = {"sample_interval_seconds": 0.5}
# A little CPU now and then, so the CPU chart has something to show.
PULSE = "while :; do i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; sleep 0.5; done"


async def verdicts(handle: AgentHandle) -> dict[str, str]:
    """Every deployment's verdict as the JSON API reports it."""
    body = await handle.get("/api/health")
    return {item["deployment"]: item["verdict"] for item in body["items"]}


async def sampled_points(handle: AgentHandle, name: str) -> int:
    """How many resource points the agent stored for a deployment's first container."""
    body = await handle.get(f"/api/deployments/{name}/resources")
    containers: list[dict[str, Any]] = body["containers"]
    return len(containers[0]["points"]) if containers else 0


def verdict_of(page: Page, name: str) -> Any:
    """The verdict badge of one deployment's row on the overview."""
    return page.locator(f'tr[data-deployment="{name}"] [data-field="verdict"]')


async def test_overview_follows_a_killed_container_live_and_charts_have_points(
    tmp_path: Path, deployments: DeploymentFactory, browser: Browser, screenshots: Path
) -> None:
    shop = deployments.make("shop", {"web": service("sleep 3600"), "db": service("sleep 3600")})
    blog = deployments.make("blog", {"app": service(PULSE)})
    idle = deployments.make("idle", {"app": service("sleep 3600")})
    for site in (shop, blog, idle):
        site.up()
    idle.stop()
    async with running_agent(tmp_path / "data", deployments.root,
                             resources=FAST_SAMPLES) as handle:
        for site in (shop, blog, idle):
            await handle.wait_listed(site.name)
        expected = {shop.name: "healthy", blog.name: "healthy", idle.name: "stopped"}
        await async_wait_until(
            lambda: _matches(handle, expected), 30, message="verdicts settle"
        )
        base = f"http://127.0.0.1:{handle.agent.server.port}"
        page = await browser.new_page(viewport=DESKTOP)
        requested: list[str] = []
        problems: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        await log_in(page, base, handle.agent.token)
        for name, verdict in expected.items():
            await expect(verdict_of(page, name)).to_have_text(verdict)
        await expect(page.locator(f'tr[data-deployment="{idle.name}"] [data-field="desired"]')
                     ).to_have_text("stopped")

        await page.evaluate("window.stillTheSamePage = true")
        web = next(c for c in shop.ps() if c["Service"] == "web")
        crash_container(web["ID"])
        await expect(verdict_of(page, shop.name)).to_have_text(
            re.compile("^(degraded|down)$"), timeout=30_000
        )
        assert await page.evaluate("window.stillTheSamePage === true"), "the page reloaded"
        api_verdict = (await verdicts(handle))[shop.name]
        await expect(verdict_of(page, shop.name)).to_have_text(api_verdict)
        await expect(page.locator(f'tr[data-deployment="{shop.name}"] [data-field="reason"]')
                     ).to_contain_text("web")
        await expect(page.locator("#host-figures")).to_contain_text("Memory")
        await expect(page.locator("#host-figures")).to_contain_text("Disk holding the agent's data")
        await page.screenshot(path=screenshots / "overview.png", full_page=True)

        await async_wait_until(
            lambda: _at_least(sampled_points(handle, blog.name), 8), 30, message="samples"
        )
        await page.goto(f"{base}/deployments/{blog.name}")
        await expect(page.get_by_role("heading", name="Services and containers")).to_be_visible()
        for chart in ("cpu", "memory"):
            line = page.locator(f'svg[data-chart="{chart}"] polyline').first
            await expect(line).to_have_attribute("data-points", re.compile(r"^\d+$"))
            count = int(await line.get_attribute("data-points") or 0)
            coords = (await line.get_attribute("points") or "").split()
            assert count >= 6, f"{chart} chart has {count} points"
            assert len(coords) == count
            assert all(re.fullmatch(r"[\d.]+,[\d.]+", c) for c in coords)
            xs = [float(c.split(",")[0]) for c in coords]
            assert xs == sorted(xs) and xs[0] < xs[-1], "points run left to right"
        await expect(page.locator('svg[data-chart="memory"] desc')).to_contain_text("latest")
        await expect(page.locator('[data-service="app"] [data-field="status"]')
                     ).to_have_text("running")
        await page.screenshot(path=screenshots / "deployment.png", full_page=True)
        assert problems == [], "script errors or blocked content (CSP)"
        assert [u for u in requested if not u.startswith((base, "data:"))] == []

        phone = await browser.new_page(viewport=PHONE, is_mobile=True, color_scheme="dark")
        await log_in(phone, base, handle.agent.token)
        await expect(verdict_of(phone, shop.name)).to_have_text(api_verdict)
        await phone.screenshot(path=screenshots / "overview-phone.png", full_page=True)
        await phone.goto(f"{base}/deployments/{shop.name}")
        await expect(phone.locator('[data-service="web"] [data-field="status"]')
                     ).not_to_have_text("running")
        await phone.screenshot(path=screenshots / "deployment-phone.png", full_page=True)


async def _matches(handle: AgentHandle, expected: dict[str, str]) -> bool:
    found = await verdicts(handle)
    return all(found.get(name) == verdict for name, verdict in expected.items())


async def _at_least(count: Any, minimum: int) -> bool:
    return int(await count) >= minimum
