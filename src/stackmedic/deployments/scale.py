"""The scale a person gave a service, kept when stackmedic runs ``compose up``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from stackmedic.deployments.model import Deployment
from stackmedic.observe.containers import ContainerState
from stackmedic.store.desired import ScaleRecord


def service_ids(containers: Iterable[ContainerState], service: str) -> frozenset[str]:
    """The ids of one service's containers (one-off ``compose run`` ones are not its own)."""
    return frozenset(c.id for c in containers if c.service == service and not c.oneoff)


def wanted_scales(records: Mapping[str, ScaleRecord],
                  containers: Iterable[ContainerState]) -> dict[str, int]:
    """Services a person keeps at fewer running containers than they have, and how many.

    behaviour: scale-stop-some-person
    """
    found = list(containers)
    return {service: record.replicas for service, record in records.items()
            if record.applies(service_ids(found, service))}


def keep_scale(containers: Iterable[ContainerState], services: Iterable[str],
               wanted: Mapping[str, int] | None = None) -> list[str]:
    """``--scale`` options that hold each of ``services`` at the scale it has now.

    ``compose up`` brings a service to the scale its files say: it would remove the
    containers a person added with ``up --scale`` (and add back ones they scaled away).
    A start or a recovery brings back what is there (or what a person kept running, in
    ``wanted``); a service with no container left is left to its files.
    behaviour: scale-person
    """
    counts = Counter(c.service for c in containers if c.service and not c.oneoff)
    scales = {**{name: count for name, count in counts.items() if count}, **(wanted or {})}
    return [f"--scale={name}={scales[name]}" for name in sorted(set(services))
            if name in scales]


class ScaleKeeper:
    """Reads the scale each service is to be kept at, from what runs and what people said."""

    def __init__(self, containers: Callable[[str], list[ContainerState]],
                 records: Callable[[str], Mapping[str, ScaleRecord]]) -> None:
        self._containers = containers
        self._records = records

    def wanted(self, deployment: Deployment) -> dict[str, int]:
        """Services of ``deployment`` a person keeps at fewer running containers."""
        return wanted_scales(self._records(deployment.name),
                             self._containers(deployment.project))

    def args(self, deployment: Deployment, services: Iterable[str]) -> list[str]:
        """``--scale`` options for an ``up`` of ``services`` that keeps their scale."""
        containers = self._containers(deployment.project)
        return keep_scale(containers, services,
                          wanted_scales(self._records(deployment.name), containers))
