"""An agent without a Docker daemon, served through httpx's ASGI transport."""

from __future__ import annotations

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
    (tmp_path / "deployments" / "site").mkdir(parents=True)
    (tmp_path / "deployments" / "site" / "compose.yaml").write_text(
        "services:\n  web:\n    image: busybox\n"
    )
    settings = Settings.model_validate({
        "data_dir": str(tmp_path / "data"),
        "deployments_path": str(tmp_path / "deployments"),
        "docker": {"host": f"unix://{tmp_path}/missing.sock"},
        "api": {"max_body_bytes": 64 * 1024},
    })
    agent = Agent(settings)
    yield agent
    await agent.engine.close()
    agent.db.close()


@pytest.fixture
async def client(offline_agent: Agent) -> AsyncIterator[httpx.AsyncClient]:
    """An unauthenticated client of the agent's app."""
    transport = httpx.ASGITransport(app=create_app(offline_agent))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as c:
        yield c


@pytest.fixture
def operator(offline_agent: Agent) -> dict[str, str]:
    """Headers with the operator token."""
    return {"Authorization": f"Bearer {offline_agent.token}"}


@pytest.fixture
def reader(offline_agent: Agent) -> dict[str, str]:
    """Headers with the read-only token."""
    token = offline_agent.settings.resolved_read_token_file.read_text().strip()
    return {"Authorization": f"Bearer {token}"}
