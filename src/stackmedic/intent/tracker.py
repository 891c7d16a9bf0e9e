"""Decides when a stop or start seen on the engine is the user's intent.

An orderly daemon shutdown (as on a host reboot) emits the same kill/die/stop events as a
user's ``docker stop`` and then ends the event stream. So a stop is held as *pending* for a
settle period and becomes intent only if the stream stayed connected to the same daemon
all along; a disconnect drops every pending stop. Stops and starts caused by the agent's own
actions are not intent either.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from stackmedic.deployments.catalog import Catalog
from stackmedic.engine.events import event_time
from stackmedic.observe.containers import LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE
from stackmedic.observe.state import ObservedState
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.types import DesiredState, IntentSource

log = structlog.get_logger(__name__)

# The engine stamps an event when the change happens, before the Compose command that
# caused it returns; so the agent's own actions are told apart by comparing that stamp with
# when they ran (same host, same clock), with a small tolerance for clock granularity. A
# person acting right after the agent must not fall inside it. Windows are kept long
# enough for a replay to match them.
ACTION_TAIL_SECONDS = 0.02
WINDOW_MEMORY_SECONDS = 600.0


@dataclass
class ActionWindow:
    """When the agent acted on a deployment (``end`` is None while it still acts)."""

    start: float
    end: float | None = None


@dataclass
class PendingStop:
    """A stop seen on the engine, waiting to be confirmed as intent."""

    deployment: str
    service: str
    container_id: str
    seen_at: float
    connection: int


class IntentTracker:
    """Watches container stop/start events and records the user's intent they carry."""

    def __init__(
        self,
        desired: DesiredStateStore,
        events: EventLog,
        catalog: Catalog,
        observed: ObservedState,
        *,
        stop_settle_seconds: float,
        start_settle_seconds: float,
        connection: Callable[[], tuple[bool, int, float]],
    ) -> None:
        self._desired = desired
        self._events = events
        self._catalog = catalog
        self._observed = observed
        self._stop_settle = stop_settle_seconds
        self._start_settle = start_settle_seconds
        # (connected, connection number, since when the daemon is known to be up)
        self._connection = connection
        self._pending: dict[str, PendingStop] = {}
        self._timers: set[asyncio.Task[None]] = set()
        self._windows: dict[str, list[ActionWindow]] = {}

    def begin_action(self, deployment: str) -> None:
        """The agent starts acting on a deployment: the events it causes are not intent."""
        windows = self._windows.setdefault(deployment, [])
        now = time.time()
        windows[:] = [w for w in windows if w.end is None or w.end > now - WINDOW_MEMORY_SECONDS]
        windows.append(ActionWindow(now))

    def end_action(self, deployment: str) -> None:
        """The agent's action on a deployment ended."""
        for window in self._windows.get(deployment, []):
            if window.end is None:
                window.end = time.time() + ACTION_TAIL_SECONDS
                break
        for key, pending in list(self._pending.items()):
            if pending.deployment == deployment:
                del self._pending[key]

    def _agent_acting(self, deployment: str, at: float) -> bool:
        """Whether an event at time ``at`` falls inside one of the agent's own actions."""
        return any(
            w.start - ACTION_TAIL_SECONDS <= at and (w.end is None or at <= w.end)
            for w in self._windows.get(deployment, [])
        )

    def stop_pending(self, deployment: str) -> bool:
        """Whether a stop of this deployment awaits confirmation as intent."""
        return any(p.deployment == deployment for p in self._pending.values())

    @property
    def pending(self) -> list[PendingStop]:
        """Stops waiting for confirmation."""
        return list(self._pending.values())

    async def on_event(self, event: dict[str, Any]) -> None:
        """Feed one engine event."""
        if event.get("Type") != "container":
            return
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        project = attributes.get(LABEL_PROJECT)
        service = attributes.get(LABEL_SERVICE)
        if not project or not service or attributes.get(LABEL_ONEOFF) == "True":
            return
        deployment = self._catalog.by_project(project)
        if deployment is None:
            return
        action = str(event.get("Action") or "")
        container_id = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
        at = event_time(event)
        if self._agent_acting(deployment.name, at):
            return
        if action == "stop":
            self._on_stop(deployment.name, service, container_id)
        elif action == "start":
            self._on_start(deployment.name, service, at)

    def on_disconnected(self) -> None:
        """The stream ended: the daemon is going away, so pending stops are not intent."""
        if not self._pending:
            return
        names = sorted({p.deployment for p in self._pending.values()})
        self._pending.clear()
        self._events.record(
            "intent-ignored",
            "containers stopped while the Docker daemon was going away; "
            "not taken as a user's stop: " + ", ".join(names),
        )

    def _on_stop(self, deployment: str, service: str, container_id: str) -> None:
        if self._desired.effective(deployment, service) == DesiredState.STOPPED:
            return
        _, number, _ = self._connection()
        self._pending[container_id] = PendingStop(
            deployment, service, container_id, time.monotonic(), number
        )
        timer = asyncio.create_task(self._confirm_later(container_id))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def _confirm_later(self, container_id: str) -> None:
        await asyncio.sleep(self._stop_settle)
        pending = self._pending.pop(container_id, None)
        if pending is None:
            return
        connected, number, _ = self._connection()
        if not connected or number != pending.connection:
            return
        self._confirm(pending)

    def _confirm(self, pending: PendingStop) -> None:
        deployment = self._catalog.get(pending.deployment)
        if deployment is None:
            return
        containers = self._observed.for_project(deployment.project)
        if any(c.id == pending.container_id and c.running for c in containers):
            return  # started again meanwhile
        still_running = {c.service for c in containers if c.running}
        if not still_running:
            record, changed = self._desired.set(
                pending.deployment, DesiredState.STOPPED, IntentSource.OBSERVED_STOP
            )
            target = "deployment"
        else:
            record, changed = self._desired.set(
                pending.deployment, DesiredState.STOPPED, IntentSource.OBSERVED_STOP,
                service=pending.service,
            )
            target = f"service {pending.service}"
        if changed:
            self._events.record(
                "intent-changed",
                f"{target} stopped outside stackmedic; desired state is now stopped",
                deployment=pending.deployment,
                service=None if target == "deployment" else pending.service,
                data={"state": record.state.value, "source": record.source},
            )
            log.info("user stop recorded", deployment=pending.deployment, target=target)

    def _on_start(self, deployment: str, service: str, at: float) -> None:
        connected, _, since = self._connection()
        # Starts in the first moments after the daemon came up may be its own restart
        # policies bringing containers back at boot, not a person.
        if not connected or at < since + self._start_settle:
            return
        for key, pending in list(self._pending.items()):
            if pending.deployment == deployment and pending.service == service:
                del self._pending[key]
        whole = self._desired.get(deployment)
        own = self._desired.get(deployment, service)
        if own is not None and own.state == DesiredState.STOPPED:
            self._desired.set(
                deployment, DesiredState.RUNNING, IntentSource.OBSERVED_START, service=service
            )
            self._record_start(deployment, f"service {service}", service)
        elif whole is not None and whole.state == DesiredState.STOPPED:
            spec = self._catalog.get(deployment)
            self._desired.set(deployment, DesiredState.RUNNING, IntentSource.OBSERVED_START)
            running = {
                c.service for c in self._observed.for_project(spec.project) if c.running
            } if spec else set()
            for other in sorted((spec.services if spec else {}).keys()):
                if other != service and other not in running:
                    self._desired.set(
                        deployment, DesiredState.STOPPED, IntentSource.OBSERVED_START,
                        service=other,
                    )
            self._record_start(deployment, "deployment", None)

    def _record_start(self, deployment: str, target: str, service: str | None) -> None:
        self._events.record(
            "intent-changed",
            f"{target} started outside stackmedic; desired state is now running",
            deployment=deployment,
            service=service,
            data={"state": "running", "source": IntentSource.OBSERVED_START.value},
        )

    async def close(self) -> None:
        """Drop pending stops and cancel their timers."""
        self._pending.clear()
        for timer in list(self._timers):
            timer.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)
