"""Keeps the observed state current: engine events as they come, a full sweep as a safety net.

Events and sweeps touch a container one at a time (a lock per container), and each event
bumps the container's generation: a sweep never applies an inspect older than the last
event, and never forgets a container it did not see because it appeared meanwhile. Only
one sweep runs at a time; a second caller waits for it and then sweeps again.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import aiodocker
import aiohttp
import structlog

from stackmedic.bus import Bus
from stackmedic.engine.client import EngineClient
from stackmedic.observe.containers import (
    LABEL_PROJECT,
    ContainerState,
    parse_inspect,
    summary_of_list_entry,
)
from stackmedic.observe.events import ContainerChanged
from stackmedic.observe.state import ObservedState

log = structlog.get_logger(__name__)

# Container actions after which the container's state may have changed.
STATE_ACTIONS = {
    "create", "start", "restart", "die", "kill", "oom", "stop", "pause", "unpause",
    "destroy", "rename", "update",
}


class ContainerMonitor:
    """Applies engine events and sweeps to the observed state; publishes each change.

    Each change is a ``ContainerChanged`` on the bus, delivered to its subscribers in the
    order they subscribed (the exit ledger annotates the state before health reads it).
    """

    def __init__(self, client: EngineClient, observed: ObservedState, bus: Bus) -> None:
        self._client = client
        self.observed = observed
        self._bus = bus
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._generation: defaultdict[str, int] = defaultdict(int)
        self._sweep_lock = asyncio.Lock()
        self.last_sweep: float | None = None
        self.sweeps = 0

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
        self._generation[container_id] += 1
        try:
            async with self._locks[container_id]:
                await self._apply_event(container_id, action, event)
        finally:
            self._forget_lock(container_id)

    async def _apply_event(self, container_id: str, action: str, event: dict[str, Any]) -> None:
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

    def _forget_lock(self, container_id: str) -> None:
        """Drop the lock and generation of a container that is gone and not being handled."""
        lock = self._locks.get(container_id)
        if lock is None or self.observed.get(container_id) is not None:
            return
        # A released lock may still have a waiter about to take it (asyncio's _waiters).
        if not lock.locked() and not getattr(lock, "_waiters", None):
            del self._locks[container_id]
            self._generation.pop(container_id, None)

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
        async with self._sweep_lock:
            return await self._sweep()

    async def _sweep(self) -> int:
        before = {cid: self._generation[cid] for cid in self.observed.ids()}
        entries = await self._client.list_project_containers()
        listed = {cid: self._generation[cid] for cid in (str(e.get("Id")) for e in entries)}
        inspected = 0
        for entry in entries:
            container_id = str(entry.get("Id"))
            async with self._locks[container_id]:
                if self._generation[container_id] != listed[container_id]:
                    continue  # an event came after the list: its inspect is newer
                known = self.observed.get(container_id)
                if known is not None and known.summary_key() == summary_of_list_entry(entry) \
                        and not known.being_created:  # its start may have failed since
                    continue
                data = await self._client.inspect_container(container_id)
                inspected += 1
                if self._generation[container_id] == listed[container_id]:
                    await self._apply(container_id, data, None)
        for gone, generation in before.items():
            if gone in listed:
                continue
            async with self._locks[gone]:
                if self._generation[gone] != generation:
                    continue  # an event after the list decides, not this sweep
                previous = self.observed.remove(gone)
                if previous is not None:
                    await self._emit(previous, None, None)
            self._forget_lock(gone)
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
        await self._bus.publish(ContainerChanged(previous, current, event))
