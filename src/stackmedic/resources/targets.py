"""Which containers to sample: an explicit list, or a provider the health side supplies."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiodocker

from stackmedic.resources.models import ContainerRef

TargetsProvider = Callable[[], Sequence[ContainerRef] | Awaitable[Sequence[ContainerRef]]]

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


async def resolve_targets(provider: TargetsProvider) -> list[ContainerRef]:
    """Call a sync or async provider and return its containers."""
    result = provider()
    if inspect.isawaitable(result):
        result = await result
    return list(result)


def ref_from_summary(summary: Mapping[str, Any]) -> ContainerRef:
    """Build a ref from one entry of the engine's container list (compose labels name it)."""
    labels = summary.get("Labels") or {}
    names = summary.get("Names") or []
    return ContainerRef(
        container_id=str(summary["Id"]),
        deployment=str(labels.get(PROJECT_LABEL, "")),
        service=str(labels.get(SERVICE_LABEL, "")),
        name=str(names[0]).lstrip("/") if names else str(summary["Id"])[:12],
    )


async def running_containers(
    docker: aiodocker.Docker, *, label: str | None = None
) -> list[ContainerRef]:
    """Every running container (optionally only those with `label`), for standalone use."""
    params: dict[str, Any] = {}
    if label is not None:
        params["filters"] = json.dumps({"label": [label]})
    containers = await docker.containers.list(**params)
    return [
        ref_from_summary({"Id": c.id, "Labels": c["Labels"], "Names": c["Names"]})
        for c in containers
    ]
