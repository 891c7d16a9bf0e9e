"""Start-up and shutdown: nothing leaks when start fails; inputs stop before consumers."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from stackmedic.agent import Agent
from stackmedic.config.model import Settings
from stackmedic.health.model import HealthTransition
from support.agent import agent_config, running_agent
from support.deployments import DeploymentFactory
from support.wait import async_wait_until


async def test_a_failed_start_closes_everything(tmp_path: Path) -> None:
    (tmp_path / "deployments").mkdir()
    config = agent_config(tmp_path / "data", tmp_path / "deployments",
                          docker_host=f"unix://{tmp_path}/no-docker.sock")
    agent = Agent(Settings.model_validate(config))

    async def cannot_start() -> None:  # a part failing once others already run
        raise RuntimeError("channel cannot open")

    agent.notifier.start = cannot_start  # type: ignore[method-assign]
    before = asyncio.all_tasks()
    with pytest.raises(RuntimeError, match="channel cannot open"):
        await agent.async_run()
    assert agent.bus.subscribers(HealthTransition) == 0
    assert not any(agent.supervisor.running(name) for name in agent.supervisor.status)
    assert asyncio.all_tasks() <= before  # no task of the agent left behind
    with pytest.raises(sqlite3.ProgrammingError):
        agent.db.execute("SELECT 1")  # the store is closed


@pytest.mark.docker
async def test_shutdown_stops_the_stream_without_calling_it_a_disconnection(
    tmp_path: Path, deployments: DeploymentFactory,
) -> None:
    async with running_agent(tmp_path / "data", deployments.root) as handle:
        agent = handle.agent
        await async_wait_until(agent.stream.connected.is_set, 30, message="connected")
    kinds = [str(r[0]) for r in sqlite3.connect(agent.settings.database_path).execute(
        "SELECT kind FROM agent_events ORDER BY id")]
    assert kinds[-1] == "agent-stopped"
    assert "docker-disconnected" not in kinds
    assert agent.bus.subscribers(HealthTransition) == 0
