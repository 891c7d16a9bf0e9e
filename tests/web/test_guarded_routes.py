"""Every dashboard route refuses a request without a session; login wants its own form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute

from stackmedic.agent import Agent
from stackmedic.api.app import create_app
from stackmedic.config.model import Settings
from stackmedic.web.dashboard import ROUTERS

OPEN = {"/login"}


@pytest.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, list[APIRoute]]]:
    """The agent's app over ASGI, with nothing started, and the dashboard's routes."""
    (tmp_path / "deployments").mkdir()
    agent = Agent(Settings.model_validate({
        "data_dir": str(tmp_path / "data"),
        "deployments_path": str(tmp_path / "deployments"),
        "docker": {"host": f"unix://{tmp_path}/missing.sock"},
    }))
    app = create_app(agent)
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
            yield client, routes
    finally:
        await agent.engine.close()
        agent.db.close()


async def test_no_dashboard_route_answers_without_a_session(
    app_client: tuple[httpx.AsyncClient, list[APIRoute]]
) -> None:
    client, routes = app_client
    checked = 0
    for route in routes:
        if route.path in OPEN:
            continue
        path = re.sub(r"\{[^}]+\}", "example", route.path).replace("{verb}", "stop")
        for method in sorted(route.methods or ()):
            response = await client.request(method, path)
            if path.startswith("/ui/live"):
                assert response.status_code == 401, (method, path)
            else:
                assert response.status_code == 303, (method, path, response.text)
                assert response.headers["location"].startswith("/login"), (method, path)
            if method == "POST":
                foreign = await client.post(path, headers={"Origin": "http://evil.test"})
                assert foreign.status_code == 403, path
            checked += 1
    assert checked >= 12


async def test_login_refuses_a_wrong_token_and_a_foreign_form(
    app_client: tuple[httpx.AsyncClient, list[APIRoute]]
) -> None:
    client, _ = app_client
    form = (await client.get("/login")).text
    nonce = re.search(r'name="nonce" value="([^"]+)"', form)
    assert nonce is not None
    data = {"token": "wrong", "nonce": nonce.group(1), "next": "/"}
    assert (await client.post("/login", data=data)).status_code == 401
    foreign = await client.post("/login", data=data, headers={"Origin": "http://evil.test"})
    assert foreign.status_code == 403
    client.cookies.clear()
    assert (await client.post("/login", data=data)).status_code == 403  # no login cookie
