"""Podman's API service comes and goes (socket activation, idle exit) while its containers
run on under conmon: a new service process is no restart, and nothing is reconciled."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

import pytest

from support.agent import RECOVERY_ON, running_agent
from support.deployments import DeploymentFactory, service
from support.images import busybox_image_name
from support.podman import PrivatePodman
from support.wait import async_wait_until

pytestmark = pytest.mark.docker


async def test_a_new_service_process_is_not_a_daemon_restart(
    tmp_path: Path, private_podman: PrivatePodman
) -> None:
    factory = DeploymentFactory(root=tmp_path / "deployments", image=busybox_image_name(),
                                docker_host=private_podman.host)
    factory.root.mkdir()
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("boot-one\n")
    try:
        site = factory.make("steady", {"web": service("sleep 3600")})
        site.up()
        started = site.ps()[0]["ID"]
        async with running_agent(tmp_path / "data", factory.root,
                                 docker_host=private_podman.host,
                                 **{**RECOVERY_ON, "boot_id_path": str(boot_id)}) as h:
            await h.wait_listed(site.name)

            async def connections() -> int:
                items = (await h.get("/api/events?kind=docker-connected"))["items"]
                return len(items)

            await async_wait_until(lambda: connections(), 30, message="first connection")
            private_podman.stop()  # as an idle socket-activated service exits
            private_podman.start()
            await async_wait_until(lambda: _at_least(connections(), 2), 30,
                                   message="reconnected to the new service process")
            kinds = [e["data"].get("restart") for e in
                     (await h.get("/api/events?kind=restart-detected"))["items"]]
            assert kinds == ["first-run"], kinds
            assert site.states() == {"web": "running"}
            assert site.ps()[0]["ID"] == started  # the same container ran on throughout
            assert (await h.get(f"/api/recoveries?deployment={site.name}"))["items"] == []
    finally:
        factory.cleanup()


async def _at_least(count: Awaitable[int], wanted: int) -> bool:
    return await count >= wanted
