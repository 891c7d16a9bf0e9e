"""Rows of the behaviour matrix: a healthcheck that flaps (healthy 6 s, unhealthy 6 s).

A flap is one episode: one problem notice, one resolved notice once the healthcheck has
passed for ``health.flap_seconds``, naming the flap; recovery acts only once the
deployment stayed ill that long without a break, never on each unhealthy spell.
"""

from __future__ import annotations

import asyncio
import re
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from support import zoo
from support.agent import AgentHandle, running_agent
from support.compose import run_docker
from support.deployments import Deployment, DeploymentFactory
from support.dockerd import PrivateDockerd
from support.mails import mail_settings, problems, resolved, subjects, texts
from support.servers import SmtpSink
from support.wait import async_wait_until

FLAP_SECONDS = 18  # longer than a spell of the flap, as the 30 s default is
SETTLE_SECONDS = 12  # twice an unhealthy spell, as recovery's 20 s default is more


def agent_on(root: Path, tmp_path: Path, smtp: SmtpSink, host: str,
             **extra: Any) -> AbstractAsyncContextManager[AgentHandle]:
    """An in-process agent on the private daemon, mailing ``smtp``, recovery on."""
    return running_agent(tmp_path / "data", root, docker_host=host,
                         **mail_settings(smtp, health={"flap_seconds": FLAP_SECONDS},
                                         recovery={"settle_seconds": SETTLE_SECONDS}, **extra))


async def verdict(h: AgentHandle, name: str) -> str:
    return str((await h.get(f"/api/deployments/{name}/health"))["verdict"])


async def history(h: AgentHandle, name: str) -> list[str]:
    """Verdicts of the deployment's history, oldest first."""
    body = await h.get(f"/api/deployments/{name}/health/history", params={"limit": 1000})
    return [i["verdict"] for i in reversed(body["items"])]


async def runs(h: AgentHandle, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        await h.get("/api/recoveries", params={"deployment": name}))["items"]
    return items


async def spells(h: AgentHandle, name: str, at_least: int) -> list[str] | None:
    """The history once it shows ``at_least`` unhealthy spells."""
    seen = await history(h, name)
    return seen if seen.count("degraded") >= at_least else None


def container_of(site: Deployment, service: str) -> str:
    return str(next(c["ID"] for c in site.ps() if c["Service"] == service))


async def flapping_site(factory: DeploymentFactory, name: str) -> Deployment:
    site = factory.make(name, {"app": zoo.flapping(period=6), "db": zoo.graceful()})
    await asyncio.to_thread(site.up, "--wait")
    return site


async def test_flapping_healthcheck_is_one_episode_and_never_recovered(
    tmp_path: Path, private_deployments: DeploymentFactory,
    private_dockerd: PrivateDockerd, smtp: SmtpSink,
) -> None:
    host = private_dockerd.host
    site = await flapping_site(private_deployments, "flap")
    app = await asyncio.to_thread(container_of, site, "app")
    async with agent_on(private_deployments.root, tmp_path, smtp, host) as h:
        seen = await async_wait_until(lambda: spells(h, site.name, 3), 60,
                                      message="three unhealthy spells")
        assert seen is not None
        assert "healthy" in seen[seen.index("degraded"):], seen  # it did flap
        assert len(problems(smtp, site.name)) == 1, subjects(smtp)
        assert resolved(smtp, site.name) == [], subjects(smtp)
        assert await runs(h, site.name) == []
        assert await asyncio.to_thread(container_of, site, "app") == app

        await asyncio.to_thread(run_docker, "exec", app, "touch", "/tmp/steady",
                                docker_host=host)
        await async_wait_until(lambda: resolved(smtp, site.name), FLAP_SECONDS + 20,
                               message="one resolved notice once steady")
        [text] = [t for t in texts(smtp, site.name) if "RESOLVED" in t.splitlines()[0]]
        match = re.search(r"flapping: healthy/unhealthy (\d+) times in (\d+) s", text)
        assert match and int(match.group(1)) >= 5, text
        assert len(problems(smtp, site.name)) == 1, subjects(smtp)
        assert await runs(h, site.name) == []
        assert await asyncio.to_thread(container_of, site, "app") == app


async def test_flap_that_turns_into_sustained_ill_health_is_recovered(
    tmp_path: Path, private_deployments: DeploymentFactory,
    private_dockerd: PrivateDockerd, smtp: SmtpSink,
) -> None:
    host = private_dockerd.host
    site = await flapping_site(private_deployments, "flapsick")
    app = await asyncio.to_thread(container_of, site, "app")
    first_start = await started_at(site, app)
    async with agent_on(private_deployments.root, tmp_path, smtp, host) as h:
        await async_wait_until(lambda: spells(h, site.name, 2), 60,
                               message="two unhealthy spells")
        await asyncio.to_thread(run_docker, "exec", app, "touch", "/tmp/sick",
                                docker_host=host)
        loop = asyncio.get_running_loop()
        sick_at = loop.time()
        done = await async_wait_until(lambda: runs(h, site.name), FLAP_SECONDS + 30,
                                      message="a recovery run once ill long enough")
        # Ill without a break for flap_seconds, not after settle_seconds (0.5 s)
        assert loop.time() - sick_at >= FLAP_SECONDS - 6, done
        assert len(problems(smtp, site.name)) == 1, subjects(smtp)
        await async_wait_until(lambda: started_again(site, app, first_start), 60,
                               message="the sick container restarted or replaced")


async def started_at(site: Deployment, container: str) -> str | None:
    """When the container last started, or None once it is gone."""
    result = await asyncio.to_thread(
        run_docker, "inspect", "-f", "{{.State.StartedAt}}", container,
        docker_host=site.docker_host, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


async def started_again(site: Deployment, container: str, first: str | None) -> bool:
    """Whether stackmedic restarted the container (a new start) or replaced it."""
    return await started_at(site, container) != first
