"""Every /api route refuses requests without the token; bad names get 422, unknown ones 404."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from stackmedic.agent import Agent
from stackmedic.api.app import create_app
from stackmedic.config.model import Settings


@pytest.fixture
async def offline_agent(tmp_path: Path) -> AsyncIterator[Agent]:
    """An agent whose Docker daemon does not exist (nothing is started)."""
    (tmp_path / "deployments").mkdir()
    settings = Settings.model_validate({
        "data_dir": str(tmp_path / "data"),
        "deployments_path": str(tmp_path / "deployments"),
        "docker": {"host": f"unix://{tmp_path}/missing.sock"},
        # Every route gets a wrong token here; past the limit those get 429 instead of 401
        # (tests/api/test_token_throttle.py), so the limit is out of the way.
        "api": {"login_attempts": 10_000},
    })
    agent = Agent(settings)
    yield agent
    await agent.engine.close()
    agent.db.close()


@pytest.fixture
async def client(offline_agent: Agent) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(offline_agent))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as c:
        yield c


async def test_every_api_route_requires_the_token(
    client: httpx.AsyncClient, offline_agent: Agent
) -> None:
    schema = (await client.get("/openapi.json")).json()
    checked = 0
    for path, operations in schema["paths"].items():
        if not path.startswith("/api"):
            continue
        concrete = re.sub(r"\{[^}]+\}", "example", path)
        for method in operations:
            for headers in ({}, {"Authorization": "Bearer wrong-token"},
                            {"Authorization": f"Basic {offline_agent.token}"}):
                response = await client.request(method.upper(), concrete, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.text)
            checked += 1
    assert checked >= 6  # list, detail, start, stop, restart, events at least


async def test_token_is_generated_once_and_kept(offline_agent: Agent) -> None:
    token_file = offline_agent.settings.resolved_token_file
    assert token_file.read_text().strip() == offline_agent.token
    assert token_file.stat().st_mode & 0o777 == 0o600
    again = Agent(offline_agent.settings)
    assert again.token == offline_agent.token
    await again.engine.close()
    again.db.close()


@pytest.mark.parametrize(("name", "status"), [("..%2Fx", 422), ("x" * 80, 422),
                                              ("no-such-site", 404)])
async def test_bad_and_unknown_names(
    client: httpx.AsyncClient, offline_agent: Agent, name: str, status: int
) -> None:
    headers = {"Authorization": f"Bearer {offline_agent.token}"}
    for method, suffix in (("GET", ""), ("POST", "/start"), ("POST", "/stop")):
        response = await client.request(method, f"/api/deployments/{name}{suffix}",
                                        headers=headers)
        assert response.status_code == status, response.text
        assert response.json()["detail"]


async def test_healthz_says_docker_is_unreachable(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["agent"]["up"] is True
    assert body["docker"]["reachable"] is False


async def test_event_query_validation_names_the_parameter(
    client: httpx.AsyncClient, offline_agent: Agent
) -> None:
    headers = {"Authorization": f"Bearer {offline_agent.token}"}
    response = await client.get("/api/events", params={"limit": "0"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["problems"][0]["where"] == "query.limit"
