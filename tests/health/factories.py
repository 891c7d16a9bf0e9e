"""Builders of deployments and container states for the pure health tests."""

from __future__ import annotations

from typing import Any

from stackmedic.deployments.model import Deployment, DeploymentKind, ServiceSpec
from stackmedic.observe.boot import RestartKind
from stackmedic.observe.containers import ContainerState
from stackmedic.observe.events import EngineConnected, EngineLost, EngineReached

NOW = 1_700_000_000.0


def deployment(*services: str, name: str = "shop", error: str | None = None) -> Deployment:
    """A folder deployment declaring ``services``."""
    return Deployment(
        name=name,
        project=name,
        kind=DeploymentKind.FOLDER,
        path=None,
        files=[],
        services={s: ServiceSpec(name=s) for s in services},
        error=error,
    )


def container(
    service: str, status: str = "running", *, project: str = "shop", number: int = 1, **fields: Any
) -> ContainerState:
    """One container of ``service`` in ``status``; extra fields override defaults."""
    return ContainerState(
        id=fields.pop("id", f"{project}-{service}-{number}"),
        name=f"{project}-{service}-{number}",
        project=project,
        service=service,
        number=number,
        status=status,
        **fields,
    )


HOST = "unix:///run/docker.sock"


def connected(*, synced: bool = True, restart: RestartKind = RestartKind.AGENT,
              first: bool = False, at: float = NOW) -> EngineConnected:
    """What the engine session tells once the resync after connecting is done."""
    return EngineConnected(HOST, restart, first, None, at, synced=synced)


def reached(*, restart: RestartKind = RestartKind.AGENT, first: bool = False,
            daemon_started_at: float | None = None, at: float = NOW) -> EngineReached:
    """What the engine session tells once the daemon behind a new stream is identified."""
    return EngineReached(HOST, restart, first, daemon_started_at, at)


def lost(at: float = NOW) -> EngineLost:
    """What the engine session tells when the stream ends."""
    return EngineLost(HOST, at)
