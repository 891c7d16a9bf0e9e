"""Fault injection: an agent reaching a private daemon through a proxy that can misbehave."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from health.proxy import SocketProxy
from support.agent import AgentHandle, running_agent
from support.deployments import DeploymentFactory
from support.dockerd import PrivateDockerd

# Short heartbeats and deadlines so that a fault shows within seconds.
QUICK_SUPERVISION: dict[str, Any] = {
    "supervision": {
        "events_heartbeat_seconds": 0.5, "stale_after_periods": 2,
        "restart_initial_seconds": 0.1, "restart_max_seconds": 0.5, "failure_limit": 3,
    },
    "docker": {"request_timeout_seconds": 2},
    "health": {"sweep_interval_seconds": 0.5},
}

StartAgent = Callable[..., AbstractAsyncContextManager[AgentHandle]]


@pytest.fixture
async def proxy(private_dockerd: PrivateDockerd) -> AsyncIterator[SocketProxy]:
    """A fault-injecting proxy in front of the private daemon."""
    server = SocketProxy(str(private_dockerd.socket_path))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def agent_via_proxy(
    tmp_path: Path, proxy: SocketProxy, private_deployments: DeploymentFactory
) -> AsyncIterator[Callable[..., Any]]:
    """Start an in-process agent that reaches the private daemon through ``proxy``."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> AgentHandle:
            from support.agent import merge

            return await stack.enter_async_context(running_agent(
                tmp_path / "data", private_deployments.root, docker_host=proxy.host,
                **merge(QUICK_SUPERVISION, overrides),
            ))

        yield start
