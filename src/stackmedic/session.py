"""What the agent does when the engine connects, drops the stream, or sends an event.

On connect: save the replay cursor, tell what kind of restart (if any) happened, resync
the observed state, let intent judge pending stops, rescan deployments, then reconcile
every deployment (host or daemon restart) or schedule recovery of the ill ones (first
connection of this agent), and refresh the host report. Only the resync is essential: a
store that cannot write (a full disk) must not end the event stream, so every other step
is done as well as it can be.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog

from stackmedic.recovery.boot import RestartDetector, RestartKind
from stackmedic.recovery.service import ILL
from stackmedic.types import EventKind, Severity

if TYPE_CHECKING:
    from stackmedic.alerts.bridge import NotificationBridge
    from stackmedic.deployments.catalog import Catalog
    from stackmedic.engine.client import EngineClient
    from stackmedic.engine.events import EventStream
    from stackmedic.health import HealthEngine
    from stackmedic.intent.tracker import IntentTracker
    from stackmedic.observe.monitor import ContainerMonitor
    from stackmedic.recovery.reconcile import RestartReconciler
    from stackmedic.recovery.service import RecoveryService
    from stackmedic.store.events import EventLog
    from stackmedic.store.facts import Facts
    from stackmedic.supervise.supervisor import Supervisor

log = structlog.get_logger(__name__)

CURSOR_FACT = "engine-event-cursor"
CURSOR_SAVE_INTERVAL = 1.0


class EngineSession:
    """The agent's side of the engine connection: connect, loss, events, replay cursor."""

    def __init__(
        self,
        *,
        engine: EngineClient,
        stream: EventStream,
        facts: Facts,
        events: EventLog,
        monitor: ContainerMonitor,
        intent: IntentTracker,
        health: HealthEngine,
        catalog: Catalog,
        refresh_catalog: Callable[[], Awaitable[object]],
        notifications: NotificationBridge,
        recovery: RecoveryService,
        reconciler: RestartReconciler,
        restarts: RestartDetector,
        supervisor: Supervisor,
        refresh_host: Callable[[], Awaitable[object]],
        flush_held_events: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._engine = engine
        self._stream = stream
        self._facts = facts
        self._events = events
        self._monitor = monitor
        self._intent = intent
        self._health = health
        self._catalog = catalog
        self._refresh_catalog = refresh_catalog
        self._notifications = notifications
        self._recovery = recovery
        self._reconciler = reconciler
        self._restarts = restarts
        self._supervisor = supervisor
        self._refresh_host = refresh_host
        self._flush_held_events = flush_held_events
        self._first = True
        self._cursor_saved_at = 0.0
        self.connected_since = 0.0
        self.daemon_started_at: float | None = None  # when known, from the daemon's process
        self.closing = False  # the agent ends the stream itself

    async def on_connected(self) -> None:
        """The stream (re)connected: resync, then act on the kind of restart seen."""
        self.connected_since = time.time()
        self.save_cursor()
        first, self._first = self._first, False
        kind = await self._restarts.detect(first=first)
        self.daemon_started_at = self._restarts.daemon_started_at
        restarted = kind in (RestartKind.HOST, RestartKind.DAEMON)
        if restarted and self.daemon_started_at is None:
            self.daemon_started_at = self.connected_since  # the best bound visible
        if restarted:
            # The reconcile owns every deployment now: no piecemeal runs from the resync.
            self._recovery.reconciling = True
            self._recovery.cancel_all()
        self.record(EventKind.DOCKER_CONNECTED, f"connected to Docker at {self._engine.host}")
        await best_effort("notify docker back", self._notifications.docker_back,
                           self._engine.host)
        try:
            await self._monitor.sweep()
        except Exception as exc:  # the stream's own error handling reconnects
            log.warning("resync after connect failed", error=str(exc))
        await best_effort("intent after connect", self._intent.on_connected)
        await best_effort("rescan after connect", self._refresh_catalog)
        await best_effort("reconcile after connect", self._after_connect, kind, first)
        await best_effort("host report", self._refresh_host)
        self._notifications.connection_settled()

    async def _after_connect(self, kind: RestartKind, first: bool) -> None:
        """Reconcile according to what kind of restart happened."""
        if kind in (RestartKind.HOST, RestartKind.DAEMON):
            self._events.record(
                EventKind.RESTART_DETECTED,
                f"{kind.value} restart detected; reconciling every deployment",
                severity=Severity.WARNING, data={"restart": kind.value},
            )
            if self._recovery.config.enabled and \
                    not self._supervisor.running("restart-reconcile"):
                self._supervisor.spawn(
                    "restart-reconcile", lambda: self._reconciler.run(kind), restart=False
                )
            return
        if not first:
            return
        self._events.record(
            EventKind.RESTART_DETECTED,
            "first start of the agent on this host" if kind == RestartKind.FIRST_RUN
            else "agent restarted (host and Docker daemon kept running)",
            data={"restart": kind.value},
        )
        for name in self._catalog.deployments:
            health = self._health.evaluate(name)
            if health is not None and health.verdict in ILL:
                self._recovery.schedule(name, "agent-start", self._recovery.config.settle_seconds)

    async def on_disconnected(self) -> None:
        """The stream ended: intent judges pending stops, people hear of it once."""
        if self.closing:
            return  # the agent ends the stream itself
        if self._flush_held_events is not None:  # events an engine translation still holds
            await best_effort("held events", self._flush_held_events)
        await best_effort("intent after disconnect", self._intent.on_disconnected)
        try:
            self._notifications.docker_lost(self._engine.host)
        except Exception:
            log.exception("notify docker lost failed")
        self.record(
            EventKind.DOCKER_DISCONNECTED, "lost the Docker event stream; reconnecting",
            severity="warning",
        )

    async def on_overflow(self) -> None:
        """Engine events were dropped: the sweep tells the current state instead."""
        self.record(
            EventKind.EVENTS_DROPPED,
            f"{self._stream.dropped} engine events dropped (queue full); resyncing",
            severity="warning", data={"dropped": self._stream.dropped},
        )
        await self._monitor.sweep()

    async def on_event(self, event: dict[str, Any]) -> None:
        """One engine event: intent first (it asks the daemon at once whether a stop is
        part of a shutdown), then the observed state; the cursor is saved now and then."""
        await self._intent.on_event(event)
        await self._monitor.on_event(event)
        now = time.monotonic()
        if now - self._cursor_saved_at >= CURSOR_SAVE_INTERVAL:
            self.save_cursor()
            self._cursor_saved_at = now

    def save_cursor(self) -> None:
        """Store where a replay of engine events starts after an agent restart."""
        if self._stream.cursor:
            try:
                self._facts.set(CURSOR_FACT, self._stream.cursor)
            except (sqlite3.Error, OSError) as exc:  # replay starts earlier: no harm
                log.error("event cursor not saved", error=str(exc))

    def record(self, kind: EventKind, message: str, **fields: Any) -> None:
        """Write to the event log; a store failure is logged, not raised."""
        try:
            self._events.record(kind, message, **fields)
        except (sqlite3.Error, OSError) as exc:
            log.error("event log write failed", kind=kind, error=str(exc))


async def best_effort(what: str, step: Callable[..., Awaitable[object]], *args: Any) -> None:
    """Await ``step(*args)``; an error is logged with its traceback, never raised."""
    try:
        await step(*args)
    except Exception:
        log.exception(f"{what} failed")
