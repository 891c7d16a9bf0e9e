"""OOM kills on the real engine: counted once per kill, per service, across recreation,
and the same figure in `stackmedic diagnose`, `/api/resources`, `/metrics` and the mail."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from stackmedic.cli.main import app
from support.agent import AgentHandle, running_agent
from support.compose import run_docker
from support.deployments import Deployment, DeploymentFactory, service
from support.servers import SmtpSink
from support.wait import async_wait_until

pytestmark = pytest.mark.docker

LIMIT = {"mem_limit": "16m", "memswap_limit": "16m"}
# Each /tmp/go starts a memory filler as a child: the OOM killer ends the child, and the
# container (its shell) keeps running for the next one.
CHILD_FILLER = ("trap 'exit 0' TERM; while :; do until [ -e /tmp/go ]; do sleep 0.1; done; "
                "rm /tmp/go; tail /dev/zero; done")
# The container's own process fills memory once /tmp/go exists: the kill ends the container.
FILLER = "until [ -e /tmp/go ]; do sleep 0.1; done; tail /dev/zero"


def settings(smtp: SmtpSink) -> dict[str, Any]:
    return {
        "resources": {"sample_interval_seconds": 0.5},
        "notifications": {
            "group_window_seconds": 0.5, "retry_initial_seconds": 0.2,
            "channels": {"ops": {
                "type": "email", "host": "127.0.0.1", "port": smtp.port, "security": "none",
                "from_address": "stackmedic@test.invalid", "to": ["ops@test.invalid"],
            }},
        },
    }


async def container_id(site: Deployment, name: str) -> str:
    """The running container of a service (off the loop: the agent shares it)."""
    result = await asyncio.to_thread(site.compose, "ps", "--quiet", name)
    return str(result.stdout).strip()


async def go(site: Deployment, name: str) -> None:
    cid = await container_id(site, name)
    await asyncio.to_thread(run_docker, "exec", cid, "touch", "/tmp/go")


async def resources(h: AgentHandle) -> dict[str, Any]:
    body: dict[str, Any] = await h.get("/api/resources")
    return body


async def kills_listed(h: AgentHandle, site: Deployment) -> dict[str, int]:
    """Per service, the top-level OOM figure of `/api/resources`."""
    return {row["service"]: row["kills"] for row in (await resources(h))["oom_kills"]
            if row["deployment"] == site.name}


async def sampled(h: AgentHandle, site: Deployment, name: str) -> dict[str, Any] | None:
    """The `/api/resources` row of the service's current container, once it is sampled."""
    cid = await container_id(site, name)
    rows = [c for c in (await resources(h))["containers"] if cid and c["container_id"] == cid]
    return rows[0] if rows else None


async def metric(h: AgentHandle, name: str, **labels: str) -> float | None:
    text = (await h.api.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in (name, f"{name}_total") and all(
                    s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def mails_naming(smtp: SmtpSink, kills: int) -> list[str]:
    """Bodies of mails about `big` whose evidence gives this many OOM kills."""
    with smtp.lock:
        bodies = [m.text() for m in smtp.mails]
    return [b for b in bodies
            if re.search(rf"oom_kills\W+{kills}\b", b) and "big" in b]


async def kill_both(h: AgentHandle, site: Deployment, kills: int) -> None:
    await go(site, "hog")
    await go(site, "big")
    await async_wait_until(
        lambda: _equals(kills_listed(h, site), {"hog": kills, "big": kills}), 60,
        message=f"{kills} OOM kills each listed")


async def _equals(got: Any, want: dict[str, int]) -> bool:
    return bool(await got == want)


async def test_oom_kills_are_counted_once_and_kept_across_recreation(
    tmp_path: Path, deployments: DeploymentFactory, smtp: SmtpSink
) -> None:
    site = deployments.make("oomc", {
        "hog": service(CHILD_FILLER, **LIMIT),
        "big": service(FILLER, restart="no", **LIMIT),
    })
    site.up()
    async with running_agent(tmp_path / "data", deployments.root, **settings(smtp)) as h:
        await async_wait_until(lambda: sampled(h, site, "hog"), 60, message="hog sampled")
        await kill_both(h, site, 1)
        await async_wait_until(lambda: mails_naming(smtp, 1), 60, message="first mail")

        # New containers, whose own counters start at 0.
        await asyncio.to_thread(site.compose, "up", "-d", "--force-recreate")
        first = await async_wait_until(lambda: sampled(h, site, "hog"), 60,
                                       message="new hog sampled")
        assert first["oom_kills"] == 1  # its own cgroup counter says 0: the count is kept
        await kill_both(h, site, 2)

        hog = await async_wait_until(
            lambda: _row_with(sampled(h, site, "hog"), 2), 30, message="hog row at 2")
        labels = {"deployment": site.name, "service": "hog", "container": hog["name"]}
        assert await async_wait_until(
            lambda: _is(metric(h, "stackmedic_container_oom_kills", **labels), 2.0),
            30, message="metric at 2")
        health = await h.get(f"/api/deployments/{site.name}/health")
        assert {n: s["oom_kills"] for n, s in health["services"].items()} == {
            "hog": 2, "big": 2}

        env = {"STACKMEDIC_URL": str(h.api.base_url).rstrip("/"),
               "STACKMEDIC_TOKEN": h.agent.token, "STACKMEDIC_CONFIG": None}
        diagnose = await asyncio.to_thread(
            CliRunner().invoke, app, ["diagnose", site.name], env=env)
        assert diagnose.exit_code == 0, diagnose.output
        assert "hog: OOM-killed 2 times" in diagnose.output.splitlines()
        assert "big: OOM-killed 2 times" in diagnose.output.splitlines()
        mail = await async_wait_until(lambda: mails_naming(smtp, 2), 60, message="second mail")
        assert "oom_killed" in mail[0]


async def _row_with(row: Any, kills: int) -> dict[str, Any] | None:
    found = await row
    return found if found is not None and found["oom_kills"] == kills else None


async def _is(value: Any, want: float) -> bool:
    return bool(await value == want)
