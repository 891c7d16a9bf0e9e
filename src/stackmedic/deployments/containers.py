"""The observed containers of the known deployments, as other parts ask for them."""

from __future__ import annotations

from stackmedic.deployments.catalog import Catalog
from stackmedic.observe.containers import ContainerState
from stackmedic.observe.state import ObservedState
from stackmedic.resources.models import ContainerRef


class DeploymentContainers:
    """Containers of known deployments: all of them, or the running ones to sample."""

    def __init__(self, catalog: Catalog, observed: ObservedState) -> None:
        self._catalog = catalog
        self._observed = observed

    def all(self) -> list[ContainerState]:
        """Every container of every known deployment (one-offs aside)."""
        return [c for d in self._catalog.deployments.values()
                for c in self._observed.for_project(d.project)]

    def sampled(self) -> list[ContainerRef]:
        """The running ones, named as the resource sampler names them."""
        return [ContainerRef(c.id, name, c.service, c.name)
                for name, d in self._catalog.deployments.items()
                for c in self._observed.for_project(d.project) if c.running]
