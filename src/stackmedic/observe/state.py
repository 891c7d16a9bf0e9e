"""The in-memory table of observed containers, grouped by Compose project."""

from __future__ import annotations

from collections.abc import Iterable

from stackmedic.observe.containers import ContainerState


class ObservedState:
    """Current container states by id, with lookups by project and service."""

    def __init__(self) -> None:
        self._containers: dict[str, ContainerState] = {}
        self.synced_at: float | None = None

    def upsert(self, state: ContainerState) -> ContainerState | None:
        """Store a container's state; return the previous one."""
        previous = self._containers.get(state.id)
        self._containers[state.id] = state
        return previous

    def remove(self, container_id: str) -> ContainerState | None:
        """Forget a container (destroyed); return what it was."""
        return self._containers.pop(container_id, None)

    def get(self, container_id: str) -> ContainerState | None:
        """One container by id."""
        return self._containers.get(container_id)

    def ids(self) -> set[str]:
        """Every known container id."""
        return set(self._containers)

    def all(self) -> Iterable[ContainerState]:
        """Every known container."""
        return list(self._containers.values())

    def for_project(self, project: str) -> list[ContainerState]:
        """The non-one-off containers of a project, ordered by service and number."""
        found = [c for c in self._containers.values() if c.project == project and not c.oneoff]
        return sorted(found, key=lambda c: (c.service, c.number, c.name))

    def projects(self) -> set[str]:
        """Every project with at least one container."""
        return {c.project for c in self._containers.values()}
