"""Where something runs Podman's healthchecks (its systemd timers), stackmedic does not."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.agent import AgentHandle, running_agent
from support.deployments import DeploymentFactory, service
from support.images import busybox_image_name
from support.podman import PrivatePodman
from support.wait import async_wait_until, wait_until

from .test_core_paths import HEALTHCHECK

pytestmark = pytest.mark.docker


@contextmanager
def timer(podman: PrivatePodman, container: str, interval: float = 1.0) -> Iterator[None]:
    """What Podman's transient systemd timer does: ``podman healthcheck run`` each interval."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            podman.podman("healthcheck", "run", container, check=False, timeout=30)
            stop.wait(interval)

    thread = threading.Thread(target=run, name="healthcheck-timer", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(60)


async def test_checks_run_by_timers_are_left_to_them(
    tmp_path: Path, private_podman: PrivatePodman
) -> None:
    factory = DeploymentFactory(root=tmp_path / "deployments", image=busybox_image_name(),
                                docker_host=private_podman.host)
    factory.root.mkdir()
    try:
        site = factory.make("timed", {"web": service("touch /tmp/ok; sleep 3600",
                                                     healthcheck=HEALTHCHECK)})
        site.up()
        container = site.container_ids()[0]
        with timer(private_podman, container):
            wait_until(lambda: "healthy" in private_podman.podman(
                "inspect", "--format", "{{.State.Health.Status}}", container,
                check=False).stdout.decode(), 30, message="the timer's first check")
            async with running_agent(tmp_path / "data", factory.root,
                                     docker_host=private_podman.host) as h:
                said = await async_wait_until(
                    lambda: _events(h, "healthchecks-run-by-podman"), 30,
                    message="stackmedic saw the timers at work")
                assert "timers run the checks" in said[0]["message"]
                private_podman.podman("exec", container, "rm", "/tmp/ok")
                await async_wait_until(lambda: _status(h, site.name), 30,
                                       message="the timer's failing check seen")
                assert h.agent.healthchecks.checks_run == 0
                assert await _events(h, "healthchecks-run-by-stackmedic") == []
    finally:
        factory.cleanup()


async def _events(h: AgentHandle, kind: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = (await h.get(f"/api/events?kind={kind}"))["items"]
    return items


async def _status(h: AgentHandle, name: str) -> bool:
    health = await h.get(f"/api/deployments/{name}/health")
    return bool(health["services"]["web"]["status"] == "unhealthy")
