"""Sessions and CSRF in a real browser: no page without logging in, no cross-site POST."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import Browser, Route, expect

from support.agent import running_agent
from support.deployments import DeploymentFactory, service
from web.conftest import log_in

EVIL = "http://evil.test"


async def test_pages_need_a_session_and_cross_site_posts_are_refused(
    tmp_path: Path, deployments: DeploymentFactory, browser: Browser
) -> None:
    site = deployments.make("guarded", {"app": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root) as handle:
        await handle.wait_listed(site.name)
        base = f"http://127.0.0.1:{handle.agent.server.port}"
        context = await browser.new_context()
        page = await context.new_page()
        for path in ("/", f"/deployments/{site.name}", "/events?severity=warning",
                     "/notifications", "/deployments/no-such-one"):
            await page.goto(base + path)
            assert page.url.startswith(f"{base}/login"), f"{path} answered without a session"
            await expect(page.get_by_label("API token")).to_be_visible()
        live = await page.request.get(f"{base}/ui/live/overview")
        assert live.status == 401
        stop_url = f"{base}/deployments/{site.name}/stop"
        anonymous = await page.request.post(stop_url, form={"confirmed": "yes"})
        assert anonymous.url.startswith(f"{base}/login")

        await page.get_by_label("API token").fill("not-the-token")
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("alert")).to_contain_text("not this agent's API token")
        await log_in(page, base, handle.agent.token, f"/deployments/{site.name}")
        cookie = next(c for c in await context.cookies() if c["name"] == "stackmedic_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert cookie["value"] != handle.agent.token
        csrf = await page.locator('input[name="csrf_token"]').first.input_value()

        # Another site's page posting to the dashboard, in the same logged-in browser.
        async def evil_page(route: Route) -> None:
            await route.fulfill(content_type="text/html", body=(
                f'<form method="post" action="{stop_url}"><input name="confirmed" value="yes">'
                f'<input name="csrf_token" value="{csrf}"><button>Win a prize</button></form>'))

        await context.route(f"{EVIL}/**", evil_page)
        await page.goto(f"{EVIL}/")
        async with page.expect_response(stop_url) as answer:
            await page.get_by_role("button", name="Win a prize").click()
        assert (await answer.value).status == 403
        await expect(page.get_by_role("heading", name="Refused")).to_be_visible()

        # The dashboard's own form with a forged CSRF token.
        await page.goto(f"{base}/deployments/{site.name}")
        await page.evaluate("""() => {
            const form = document.querySelector('form[action$="/stop"]');
            form.querySelector('input[name=csrf_token]').value = 'forged';
            form.querySelector('input[name=confirmed]').value = 'yes';
            form.submit();
        }""")
        await expect(page.get_by_role("heading", name="Refused")).to_be_visible()
        await expect(page.locator("main")).to_contain_text("CSRF token")

        # The Origin check holds on its own, even with the session cookie and the right token.
        jar = {"stackmedic_session": cookie["value"]}
        form = {"csrf_token": csrf, "confirmed": "yes"}
        async with httpx.AsyncClient(base_url=base, cookies=jar) as client:
            foreign = await client.post(stop_url, data=form, headers={"Origin": EVIL})
            assert foreign.status_code == 403
            referred = await client.post(stop_url, data=form,
                                         headers={"Referer": f"{EVIL}/page"})
            assert referred.status_code == 403
            marked = await client.post(stop_url, data=form,
                                       headers={"Sec-Fetch-Site": "same-site"})
            assert marked.status_code == 403
        desired = await handle.desired(site.name)
        assert desired is not None and desired["state"] == "running"
        assert site.states() == {"app": "running"}

        await page.goto(base + "/")
        await page.get_by_role("button", name="Log out").click()
        await expect(page.get_by_label("API token")).to_be_visible()
        await page.goto(f"{base}/events")
        assert page.url.startswith(f"{base}/login")
        assert (await page.request.get(f"{base}/ui/live/overview")).status == 401
