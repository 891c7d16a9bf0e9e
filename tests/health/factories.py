"""Builders of deployments and container states for the pure health tests."""

from __future__ import annotations

from typing import Any

from stackmedic.deployments.model import Deployment, DeploymentKind, ServiceSpec
from stackmedic.observe.containers import ContainerState

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
