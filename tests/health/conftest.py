"""An agent running in-process, with its health transitions recorded, for Docker tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackmedic.agent import Agent
from stackmedic.config.model import Settings
from stackmedic.health.model import HealthTransition
from support.agent import AgentHandle, agent_config, merge
from support.deployments import DeploymentFactory
from support.wait import async_wait_until


@dataclass
class HealthAgent:
    """A running agent, its API, and every health transition it published."""

    handle: AgentHandle
    transitions: list[HealthTransition] = field(default_factory=list)

    @property
    def agent(self) -> Agent:
        """The agent object itself."""
        return self.handle.agent

    async def health(self, name: str) -> dict[str, Any] | None:
        """The deployment's row of ``GET /api/health``."""
        body = await self.handle.get("/api/health")
        return next((i for i in body["items"] if i["deployment"] == name), None)

    async def detail(self, name: str) -> dict[str, Any]:
        """``GET /api/deployments/{name}/health``."""
        body: dict[str, Any] = await self.handle.get(f"/api/deployments/{name}/health")
        return body

    async def history(self, name: str) -> list[dict[str, Any]]:
        """``GET /api/deployments/{name}/health/history``, oldest first."""
        body = await self.handle.get(f"/api/deployments/{name}/health/history")
        return list(reversed(body["items"]))

    async def wait_verdict(self, name: str, verdict: str, timeout: float = 30) -> dict[str, Any]:
        """Poll ``GET /api/health`` until the deployment shows ``verdict``; return its row."""

        async def shown() -> dict[str, Any] | None:
            row = await self.health(name)
            return row if row is not None and row["verdict"] == verdict else None

        row: dict[str, Any] = await async_wait_until(shown, timeout, message=f"{name} {verdict}")
        return row

    def verdicts(self, name: str) -> list[str]:
        """The verdicts published on the bus for one deployment, in order."""
        return [t.verdict.value for t in self.transitions if t.deployment == name]


StartAgent = Callable[..., Awaitable[HealthAgent]]


@pytest.fixture
async def start_agent(tmp_path: Path, deployments: DeploymentFactory) -> AsyncIterator[StartAgent]:
    """Start an in-process agent on the test's deployments (config overrides as keywords).

    Recovery is off unless the overrides turn it on.
    """
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> HealthAgent:
            # Recovery would act on what these tests break on purpose.
            config = agent_config(
                tmp_path / "data",
                deployments.root,
                **merge({"recovery": {"enabled": False}}, overrides),
            )
            agent = Agent(Settings.model_validate(config))
            transitions: list[HealthTransition] = []

            async def record(transition: HealthTransition) -> None:
                transitions.append(transition)

            agent.bus.subscribe(HealthTransition, record)  # before start: miss nothing
            await agent.start()
            stack.push_async_callback(agent.close)
            assert agent.server is not None
            api = await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{agent.server.port}",
                    headers={"Authorization": f"Bearer {agent.token}"},
                    timeout=120,
                )
            )
            return HealthAgent(AgentHandle(agent, api), transitions)

        yield start
