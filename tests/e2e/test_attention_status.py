"""`stackmedic status` against a live agent flags a deployment that is down, wanted running,
and that recovery will not bring back; `stackmedic stop` is how a person settles it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stackmedic.cli.main import app
from support.agent import RECOVERY_ON, AgentHandle, merge, running_agent
from support.compose import run_docker
from support.deployments import Deployment, DeploymentFactory, service
from support.wait import async_wait_until

pytestmark = pytest.mark.docker

# Runs until /tmp/go exists, then fails: first seen running (so wanted running), then down.
FAILS_ON_GO = "until [ -e /tmp/go ]; do sleep 0.1; done; echo fatal config error; exit 3"


async def fail(h: AgentHandle, site: Deployment) -> None:
    """Let the service fail once the agent has seen it running."""
    await h.wait_listed(site.name)
    assert (await h.desired(site.name) or {}).get("state") == "running"
    cid = (await asyncio.to_thread(site.compose, "ps", "--quiet", "app")).stdout.strip()
    await asyncio.to_thread(run_docker, "exec", cid, "touch", "/tmp/go")


async def cli(h: AgentHandle, *args: str) -> Any:
    """The CLI against the in-process agent (in a thread: the agent needs the loop)."""
    env = {"STACKMEDIC_URL": str(h.api.base_url).rstrip("/"),
           "STACKMEDIC_TOKEN": h.agent.token, "STACKMEDIC_CONFIG": None}
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


async def attention(h: AgentHandle, name: str) -> dict[str, Any] | None:
    for row in (await h.get("/api/deployments"))["items"]:
        if row["name"] == name:
            found: dict[str, Any] | None = row["attention"]
            return found
    raise AssertionError(f"{name} not listed")


async def test_down_with_recovery_off_is_flagged_until_a_person_says_stop(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("attoff", {"app": service(FAILS_ON_GO, restart="no")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root) as h:  # recovery off
        await fail(h, site)
        flagged = await async_wait_until(lambda: attention(h, site.name), 60,
                                         message="flagged")
        assert flagged["why"] == "recovery-off"
        status = await cli(h, "status")
        assert (f"{site.name} needs attention: down, wanted running, recovery is off"
                in status.output), status.output
        assert f"stackmedic stop {site.name}" in status.output
        # The engine reports nothing for a stop of what is down: still flagged.
        await asyncio.to_thread(site.stop)
        assert await attention(h, site.name) is not None
        await cli(h, "stop", site.name)
        assert await attention(h, site.name) is None
        assert "needs attention" not in (await cli(h, "status")).output


async def test_a_give_up_is_flagged_with_its_time(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("attgive", {"app": service(FAILS_ON_GO, restart="no")})
    site.up()
    config = merge(RECOVERY_ON, {"recovery": {"attempt_budget": 1}})
    async with running_agent(tmp_path / "data", deployments.root, **config) as h:
        await fail(h, site)
        flagged = await async_wait_until(lambda: attention(h, site.name), 120,
                                         message="flagged after the give-up")
        assert flagged["why"] == "gave-up" and flagged["at"] and flagged["detail"]
        status = await cli(h, "status")
        line = next(x for x in status.output.splitlines() if "needs attention" in x)
        assert line.startswith(
            f"{site.name} needs attention: down, wanted running, recovery gave up at "), line
