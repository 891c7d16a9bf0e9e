"""The engine under test: Docker, or a private rootful Podman service, behind one face.

Each test here runs once per engine (``engine`` is parametrized), so the Podman variant
asserts exactly what the Docker one does, except where the README says they differ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from support.deployments import DeploymentFactory
from support.dockerd import PrivateDockerd
from support.images import busybox_image_name
from support.podman import PrivatePodman, podman_unavailable
from support.podman_rootless import RootlessPodman, rootless_podman_unavailable


@dataclass
class Engine:
    """What a test needs of an engine: its socket, deployments on it, and a reboot."""

    kind: str  # "docker" or "podman"
    host: str
    factory: DeploymentFactory
    reboot: Callable[[Path, str], None] | None  # (boot id file, new boot id)
    # What podman-restart.service does at boot; None where the engine restarts by itself.
    restart_unit: Callable[[], None] | None = None
    rootless: bool = False


Service = TypeVar("Service", bound=PrivatePodman)


def _started(kind: type[Service], unavailable: str | None, label: str) -> Iterator[Service]:
    """A started service of ``kind`` holding the busybox image; removed at teardown."""
    if unavailable is not None:
        pytest.skip(f"{label} variant not run: {unavailable}")
    kind.sweep_orphans()
    service = kind()
    try:
        service.start()
        service.load_image(busybox_image_name())
        yield service
    finally:
        service.teardown()


@pytest.fixture
def private_podman() -> Iterator[PrivatePodman]:
    """A started private podman service holding the busybox image; removed at teardown."""
    yield from _started(PrivatePodman, podman_unavailable(), "Podman")


@pytest.fixture
def rootless_podman() -> Iterator[RootlessPodman]:
    """A started rootless podman service holding the busybox image; removed at teardown."""
    yield from _started(RootlessPodman, rootless_podman_unavailable(), "rootless Podman")


def _factory(tmp_path: Path, host: str | None) -> DeploymentFactory:
    factory = DeploymentFactory(root=tmp_path / "deployments", image=busybox_image_name(),
                                docker_host=host)
    factory.root.mkdir()
    return factory


@pytest.fixture(params=["docker", "podman", "podman-rootless"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Each engine in turn: a private dockerd, a private rootful and a rootless podman."""
    if request.param == "podman-rootless":
        rootless: RootlessPodman = request.getfixturevalue("rootless_podman")
        factory = _factory(tmp_path, rootless.host)
        made = Engine("podman", rootless.host, factory, None, rootless=True)
    elif request.param == "podman":
        podman: PrivatePodman = request.getfixturevalue("private_podman")
        factory = _factory(tmp_path, podman.host)
        made = Engine("podman", podman.host, factory, podman.reboot, podman.restart_policies)
    else:
        dockerd: PrivateDockerd = request.getfixturevalue("private_dockerd")
        factory = _factory(tmp_path, dockerd.host)

        def reboot(path: Path, boot: str) -> None:
            dockerd.stop()
            path.write_text(boot + "\n")
            dockerd.start()

        made = Engine("docker", dockerd.host, factory, reboot)
    try:
        yield made
    finally:
        factory.cleanup()
