"""Keeps the observed state current: engine events as they come, a full sweep as a safety net."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiodocker
import aiohttp
import structlog

from stackmedic.engine.client import EngineClient
from stackmedic.observe.containers import (
    LABEL_PROJECT,
    ContainerState,
    parse_inspect,
    summary_of_list_entry,
)
from stackmedic.observe.state import ObservedState

log = structlog.get_logger(__name__)

# Container actions after which the container's state may have changed.
STATE_ACTIONS = {
    "create", "start", "restart", "die", "kill", "oom", "stop", "pause", "unpause",
    "destroy", "rename", "update",
}

ChangeListener = Callable[
    [ContainerState | None, ContainerState | None, dict[str, Any] | None], Awaitable[None]
]


class ContainerMonitor:
    """Applies engine events and sweeps to the observed state and reports each change."""

    def __init__(self, client: EngineClient, observed: ObservedState) -> None:
        self._client = client
        self.observed = observed
        self._listeners: list[ChangeListener] = []
        self.last_sweep: float | None = None
        self.sweeps = 0

    def subscribe(self, listener: ChangeListener) -> None:
        """Call ``listener(previous, current, event)`` for each change of a container."""
        self._listeners.append(listener)

    async def on_event(self, event: dict[str, Any]) -> None:
        """Apply one engine event."""
        if event.get("Type") != "container":
            return
        action = str(event.get("Action") or "").split(":", 1)[0]
        if action not in STATE_ACTIONS and not action.startswith("health_status"):
            return
        actor = event.get("Actor") or {}
        if LABEL_PROJECT not in (actor.get("Attributes") or {}):
            return
        container_id = str(actor.get("ID") or "")
        if action == "destroy":
            previous = self.observed.remove(container_id)
            if previous is not None:
                await self._emit(previous, None, event)
            return
        try:
            data = await self._client.inspect_container(container_id)
        except (aiodocker.DockerError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("inspect failed", container=container_id[:12], error=str(exc))
            return
        await self._apply(container_id, data, event)

    async def _apply(
        self, container_id: str, data: dict[str, Any] | None, event: dict[str, Any] | None
    ) -> None:
        current = parse_inspect(data) if data else None
        if current is None:
            previous = self.observed.remove(container_id)
            if previous is not None:
                await self._emit(previous, None, event)
            return
        previous = self.observed.upsert(current)
        if previous is None or previous.as_dict() != current.as_dict() or event is not None:
            await self._emit(previous, current, event)

    async def sweep(self) -> int:
        """Compare the engine's container list with what is known; inspect only what differs.

        Returns how many containers were inspected.
        """
        entries = await self._client.list_project_containers()
        seen = set()
        inspected = 0
        for entry in entries:
            container_id = str(entry.get("Id"))
            seen.add(container_id)
            known = self.observed.get(container_id)
            if known is not None and known.summary_key() == summary_of_list_entry(entry):
                continue
            data = await self._client.inspect_container(container_id)
            inspected += 1
            await self._apply(container_id, data, None)
        for gone in self.observed.ids() - seen:
            previous = self.observed.remove(gone)
            if previous is not None:
                await self._emit(previous, None, None)
        self.last_sweep = time.time()
        self.observed.synced_at = self.last_sweep
        self.sweeps += 1
        return inspected

    async def _emit(
        self,
        previous: ContainerState | None,
        current: ContainerState | None,
        event: dict[str, Any] | None,
    ) -> None:
        for listener in self._listeners:
            try:
                await listener(previous, current, event)
            except Exception:
                log.exception("container change listener failed")
