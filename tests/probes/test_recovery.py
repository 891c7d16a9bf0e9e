"""A running-but-broken site on a real daemon: detected by its probe, told once, recovered
by a restart, or given up on truthfully with the probe's own words."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from stackmedic.cli.health import render_health
from support.agent import AgentHandle, running_agent
from support.compose import run_docker
from support.deployments import DeploymentFactory
from support.dockerd import PrivateDockerd
from support.mails import mail_settings, problems, resolved, subjects, texts
from support.servers import SmtpSink
from support.wait import async_wait_until

from .services import BROKEN, deadlocked, web

PROBES = {"grace_seconds": 1}


async def probes_of(h: AgentHandle, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await h.get(f"/api/deployments/{name}/probes"))["probes"]
    return items


async def passed(h: AgentHandle, name: str) -> bool:
    found = await probes_of(h, name)
    return bool(found) and all(p["last"] and p["last"]["ok"] for p in found)


async def runs(h: AgentHandle, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        await h.get("/api/recoveries", params={"deployment": name}))["items"]
    return items


async def test_a_site_answering_500_is_ill_alerted_restarted_and_resolved(
    tmp_path: Path, private_deployments: DeploymentFactory,
    private_dockerd: PrivateDockerd, smtp: SmtpSink,
) -> None:
    site = private_deployments.make("site", {"web": web()})
    await asyncio.to_thread(site.up)
    settings = mail_settings(smtp, probes=PROBES)
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host, **settings) as h:
        await async_wait_until(lambda: passed(h, site.name), 30, message="probe passes")
        [probe] = await probes_of(h, site.name)
        # Probed inside the container: its server listens on the container's loopback.
        assert probe["inside"] and probe["last"]["container"].startswith(site.name)
        assert probe["latency_ms"] is not None
        health = await h.get(f"/api/deployments/{site.name}/health")
        assert health["verdict"] == "healthy", health
        # `stackmedic health NAME` shows the probe with its latency.
        shown = render_health(health)
        assert "http://:8080/cgi-bin/h" in shown and " ms " in shown, shown

        container = site.ps()[0]["Name"]
        await asyncio.to_thread(run_docker, "exec", container, "touch", BROKEN,
                                docker_host=private_dockerd.host)
        told = await async_wait_until(lambda: problems(smtp, site.name), 30,
                                      message="problem mail")
        assert "HTTP 500" in texts(smtp, site.name)[0], texts(smtp, site.name)
        await async_wait_until(lambda: resolved(smtp, site.name), 60, message="resolved mail")
        done = await runs(h, site.name)
        assert any(a["action"] == "restart" for r in done for a in r["actions"]), done
        assert done[0]["outcome"] == "recovered", done[0]
        assert len(problems(smtp, site.name)) == len(told) == 1, subjects(smtp)
        assert await passed(h, site.name)


async def test_a_deadlock_a_restart_does_not_cure_is_given_up_with_the_probe_output(
    tmp_path: Path, private_deployments: DeploymentFactory,
    private_dockerd: PrivateDockerd, smtp: SmtpSink,
) -> None:
    site = private_deployments.make("stuck", {"web": deadlocked()})
    await asyncio.to_thread(site.up)
    settings = mail_settings(smtp, probes=PROBES, recovery={"verify_timeout_seconds": 8})
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host, **settings) as h:
        health = await async_wait_until(
            lambda: _ill(h, site.name), 30, message="ill from its probe")
        assert "timed out after 1s" in health["reason"], health
        assert health["services"]["web"]["status"] == "unhealthy"

        def gave_up() -> list[str]:
            return [t for t in texts(smtp, site.name) if "gave up" in t.lower()]

        told = await async_wait_until(gave_up, 120, message="give-up mail")
        assert "timed out after 1s" in told[0], told[0]
        done = await runs(h, site.name)
        tried = {a["action"] for r in done for a in r["actions"]}
        assert {"restart", "recreate"} <= tried, done
        assert len(problems(smtp, site.name)) == 1, subjects(smtp)


async def _ill(h: AgentHandle, name: str) -> dict[str, Any] | None:
    health: dict[str, Any] = await h.get(f"/api/deployments/{name}/health")
    return health if health["verdict"] in ("degraded", "down") else None
