"""Rows of the behaviour matrix: a person's stops, starts and changes of engine objects
(docker CLI, Compose, stackmedic's API) are intent or nothing, never an outage.

Each row runs on the module's private dockerd with an in-process agent (recovery on) that
mails a real SMTP sink, and asserts what a person would notice: the verdict and desired
state in the API, what runs, and that no mail and no recovery run came of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from support import zoo
from support.agent import RECOVERY_ON, AgentHandle, merge, running_agent
from support.deployments import Deployment, DeploymentFactory
from support.dockerd import PrivateDockerd
from support.lifecycle import email_channel
from support.servers import SmtpSink
from support.wait import async_assert_holds, async_wait_until

pytestmark = pytest.mark.docker

POLICIES = ("no", "on-failure", "always", "unless-stopped")
# Long enough for a settle, a group window and a recovery run to have shown themselves.
QUIET_SECONDS = 5.0


def _config(sink: SmtpSink) -> dict[str, Any]:
    return merge(RECOVERY_ON, {"notifications": email_channel(sink)})


@asynccontextmanager
async def _watched(tmp_path: Path, dockerd: PrivateDockerd, factory: DeploymentFactory,
                   smtp: SmtpSink, *sites: Deployment) -> AsyncIterator[AgentHandle]:
    async with running_agent(tmp_path / "data", factory.root, docker_host=dockerd.host,
                             **_config(smtp)) as handle:
        for site in sites:
            await handle.wait_listed(site.name)
            await _until_verdict(handle, site.name, "healthy")
        yield handle


async def _health(handle: AgentHandle, name: str) -> dict[str, Any]:
    body: dict[str, Any] = await handle.get(f"/api/deployments/{name}/health")
    return body


async def _until_verdict(handle: AgentHandle, name: str, verdict: str,
                         timeout: float = 60) -> dict[str, Any]:
    async def seen() -> dict[str, Any] | None:
        health = await _health(handle, name)
        return health if health["verdict"] == verdict else None

    found: dict[str, Any] = await async_wait_until(seen, timeout,
                                                   message=f"{name} {verdict}")
    return found


async def _desired(handle: AgentHandle, name: str) -> dict[str, Any]:
    desired = await handle.desired(name)
    assert desired is not None
    return desired


async def _quiet(handle: AgentHandle, smtp: SmtpSink, name: str, verdict: str) -> None:
    """For a while: no mail, no recovery run, and the verdict stays ``verdict``."""
    async def calm() -> bool:
        runs = (await handle.get("/api/recoveries", params={"deployment": name}))["items"]
        health = await _health(handle, name)
        return smtp.count() == 0 and not runs and health["verdict"] == verdict

    await async_assert_holds(calm, QUIET_SECONDS, interval=0.5,
                             message=f"{name} quiet and {verdict}")


@pytest.mark.parametrize("policy", POLICIES)
async def test_docker_stop_is_intent(tmp_path: Path, private_dockerd: PrivateDockerd,
                                     private_deployments: DeploymentFactory, smtp: SmtpSink,
                                     policy: str) -> None:
    site = private_deployments.make("stopped", {"app": zoo.graceful(restart=policy)})
    site.up()
    async with _watched(tmp_path, private_dockerd, private_deployments, smtp, site) as handle:
        private_dockerd.docker("stop", *site.container_ids())
        await async_wait_until(
            lambda: _state_is(handle, site.name, "stopped"), 30, message="desired stopped")
        assert (await _desired(handle, site.name))["source"] == "observed-stop"
        await _quiet(handle, smtp, site.name, "stopped")
        assert site.states() == {"app": "exited"}


@pytest.mark.parametrize("command", ["stop", "down"])
async def test_compose_stop_or_down_is_intent(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink, command: str,
) -> None:
    site = private_deployments.make("composed", {"app": zoo.graceful(),
                                                 "side": zoo.ignores_term()})
    site.up()
    async with _watched(tmp_path, private_dockerd, private_deployments, smtp, site) as handle:
        site.compose(command)
        await async_wait_until(
            lambda: _state_is(handle, site.name, "stopped"), 30, message="desired stopped")
        await _quiet(handle, smtp, site.name, "stopped")
        expected = {} if command == "down" else {"app": "exited", "side": "exited"}
        assert site.states() == expected


async def test_stop_and_start_through_stackmedic(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    site = private_deployments.make("managed", {"app": zoo.exits_143()})
    site.up()
    async with _watched(tmp_path, private_dockerd, private_deployments, smtp, site) as handle:
        response = await handle.post(f"/api/deployments/{site.name}/stop")
        assert response.status_code == 200, response.text
        assert (await _desired(handle, site.name))["source"] == "api"
        await _until_verdict(handle, site.name, "stopped")
        await _quiet(handle, smtp, site.name, "stopped")
        response = await handle.post(f"/api/deployments/{site.name}/start")
        assert response.status_code == 200, response.text
        await _until_verdict(handle, site.name, "healthy")
        await _quiet(handle, smtp, site.name, "healthy")


@pytest.mark.parametrize("behaviour", ["graceful", "exits_143", "ignores_term"])
async def test_docker_start_of_a_stopped_deployment_is_intent(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink, behaviour: str,
) -> None:
    site = private_deployments.make("restarted", {"app": getattr(zoo, behaviour)()})
    site.up()
    async with _watched(tmp_path, private_dockerd, private_deployments, smtp, site) as handle:
        response = await handle.post(f"/api/deployments/{site.name}/stop")
        assert response.status_code == 200, response.text
        await _until_verdict(handle, site.name, "stopped")
        private_dockerd.docker("start", *site.container_ids())
        await async_wait_until(
            lambda: _state_is(handle, site.name, "running"), 30, message="desired running")
        await _until_verdict(handle, site.name, "healthy")
        await _quiet(handle, smtp, site.name, "healthy")


async def test_rename_changes_nothing(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    site = private_deployments.make("renamed", {"app": zoo.graceful()})
    site.up()
    async with _watched(tmp_path, private_dockerd, private_deployments, smtp, site) as handle:
        (container,) = site.container_ids()
        private_dockerd.docker("rename", container, f"{site.name}-moved")
        moved = f"{site.name}-moved"
        await async_wait_until(
            lambda: _containers_named(handle, site.name, [moved]), 30,
            message="the new name shown")
        await _quiet(handle, smtp, site.name, "healthy")


async def test_update_of_a_running_container_changes_nothing(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    site = private_deployments.make("updated", {"app": zoo.graceful()})
    site.up()
    async with _watched(tmp_path, private_dockerd, private_deployments, smtp, site) as handle:
        private_dockerd.docker("update", "--restart", "unless-stopped", "--memory", "64m",
                               "--memory-swap", "64m", *site.container_ids())
        await _quiet(handle, smtp, site.name, "healthy")


async def test_image_removed_under_a_running_container_changes_nothing(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    image = f"{private_deployments.prefix}-own:1"
    private_dockerd.docker("tag", private_deployments.image, image)
    site = private_deployments.make("imageless", {"app": {**zoo.graceful(), "image": image}})
    site.up()
    async with _watched(tmp_path, private_dockerd, private_deployments, smtp, site) as handle:
        private_dockerd.docker("rmi", "--force", image)
        await _quiet(handle, smtp, site.name, "healthy")
        assert site.states() == {"app": "running"}


async def test_removing_the_containers_of_a_stopped_deployment_keeps_it_stopped(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    site = private_deployments.make("cleared", {"app": zoo.graceful()})
    site.up()
    async with _watched(tmp_path, private_dockerd, private_deployments, smtp, site) as handle:
        response = await handle.post(f"/api/deployments/{site.name}/stop")
        assert response.status_code == 200, response.text
        await _until_verdict(handle, site.name, "stopped")
        private_dockerd.docker("rm", *site.container_ids())
        await _quiet(handle, smtp, site.name, "stopped")
        assert site.states() == {}
        assert (await _desired(handle, site.name))["state"] == "stopped"


async def _state_is(handle: AgentHandle, name: str, state: str) -> bool:
    return (await _desired(handle, name))["state"] == state


async def _containers_named(handle: AgentHandle, name: str, names: list[str]) -> bool:
    health = await _health(handle, name)
    return [c["container"] for c in health["containers"]] == names


async def test_a_compose_file_made_invalid_while_it_runs_is_one_warning_until_fixed(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    site = private_deployments.make("edited", {"app": zoo.graceful()})
    site.up()
    valid = site.compose_file.read_text()
    async with _watched(tmp_path, private_dockerd, private_deployments, smtp, site) as handle:
        site.compose_file.write_text(valid.replace("services:", "servicez:", 1))
        health = await _until_verdict(handle, site.name, "invalid")
        assert "compose file invalid" in health["reason"]
        mails = await async_wait_until(lambda: _subjects(smtp), 30, message="a notice")
        assert len(mails) == 1 and "WARNING PROBLEM" in mails[0], mails
        runs = (await handle.get("/api/recoveries", params={"deployment": site.name}))["items"]
        assert runs == []  # nothing to run until the file is valid again
        assert site.states() == {"app": "running"}  # what runs is left alone
        site.compose_file.write_text(valid)
        await _until_verdict(handle, site.name, "healthy")
        resolved = await async_wait_until(
            lambda: [s for s in _subjects(smtp) if "RESOLVED" in s], 30, message="resolved")
        assert len(resolved) == 1 and len(_subjects(smtp)) == 2, _subjects(smtp)


def _subjects(smtp: SmtpSink) -> list[str]:
    with smtp.lock:
        return [str(m.message["Subject"]) for m in smtp.mails]
