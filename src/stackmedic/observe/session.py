"""The agent's side of the engine connection: the event stream, resyncs, restart detection.

It tells the rest of the agent only through the bus (``observe.events``). On connect: save
the replay cursor, tell what restarted (``EngineReached``), resync the observed state, then
``EngineConnected`` (intent judges pending stops, deployments are rescanned, a reconcile or
the recovery of ill deployments begins, the host report is refreshed: its subscribers, in
the order they subscribed) and ``ConnectionSettled``. On loss: ``EngineLost``, unless the
agent ends the stream itself. Only the resync is the session's own step; a subscriber that
fails is logged by the bus and the others still hear, so that a store that cannot write
(a full disk) never ends the event stream.

"Synced" has one definition, here: the containers were read in full since the current
connection began.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import structlog

from stackmedic.bus import Bus
from stackmedic.engine.client import EngineClient
from stackmedic.engine.config import DockerConfig
from stackmedic.engine.events import EventStream
from stackmedic.engine.identity import EngineKind
from stackmedic.engine.podman import PodmanEvents
from stackmedic.observe.boot import RestartDetector
from stackmedic.observe.events import (
    RESTARTS,
    ConnectionSettled,
    EngineConnected,
    EngineEvent,
    EngineEventApplied,
    EngineLost,
    EngineReached,
    EngineSynced,
)
from stackmedic.observe.monitor import ContainerMonitor
from stackmedic.store.events import EventLog
from stackmedic.store.facts import Facts
from stackmedic.supervise.heartbeat import Heartbeats
from stackmedic.types import EventKind, Severity

log = structlog.get_logger(__name__)

CURSOR_FACT = "engine-event-cursor"
CURSOR_SAVE_INTERVAL = 1.0


class EngineSession:
    """Keeps the engine's event stream open and tells the bus what happens to it."""

    def __init__(
        self,
        engine: EngineClient,
        monitor: ContainerMonitor,
        bus: Bus,
        *,
        facts: Facts,
        events: EventLog,
        boot_id_path: Path,
        docker: DockerConfig,
        heartbeats: Heartbeats,
        beat_every: float,
    ) -> None:
        self._engine = engine
        self._monitor = monitor
        self._bus = bus
        self._facts = facts
        self._events = events
        self._heartbeats = heartbeats
        self._restarts = RestartDetector(facts, boot_id_path, engine.host,
                                         engine_kind=lambda: engine.kind)
        # Podman tells its events in its own words; translated before anyone reads them.
        self.podman = PodmanEvents(self.on_event,
                                   active=lambda: engine.kind is EngineKind.PODMAN)
        self.stream = EventStream(
            engine, self.podman.on_event,
            on_connected=self.on_connected, on_disconnected=self.on_disconnected,
            on_overflow=self.on_overflow, cursor=facts.get(CURSOR_FACT),
            backoff_initial=docker.reconnect_initial_seconds,
            backoff_max=docker.reconnect_max_seconds,
            beat=lambda: heartbeats.beat("events"), beat_every=beat_every,
        )
        self._first = True
        self._cursor_saved_at = 0.0
        self._settled = False  # EngineConnected told for the current connection
        self.synced = False
        self.closing = False  # the agent ends the stream itself

    async def on_connected(self) -> None:
        """The stream (re)connected: tell what restarted, resync, tell it is connected."""
        now = time.time()
        self._settled = self.synced = False
        self.save_cursor()
        first, self._first = self._first, False
        kind = await self._restarts.detect(first=first)
        started = self._restarts.daemon_started_at
        if kind in RESTARTS and started is None:
            started = now  # the best bound visible
        connection = (self._engine.host, kind, first, started, now)
        self.record(EventKind.DOCKER_CONNECTED, f"connected to Docker at {self._engine.host}")
        await self._bus.publish(EngineReached(*connection))
        try:
            await self._monitor.sweep()
            self.synced = True
        except Exception as exc:  # the stream's own error handling reconnects
            log.warning("resync after connect failed", error=str(exc))
        self._settled = True
        await self._bus.publish(EngineConnected(*connection, synced=self.synced))
        await self._bus.publish(ConnectionSettled(time.time()))

    async def on_disconnected(self) -> None:
        """The stream ended: tell it once, unless the agent is ending it."""
        self._settled = self.synced = False
        if self.closing:
            return
        await self._bus.publish(EngineLost(self._engine.host, time.time()))
        self.record(
            EventKind.DOCKER_DISCONNECTED, "lost the Docker event stream; reconnecting",
            severity=Severity.WARNING,
        )

    async def on_overflow(self) -> None:
        """Engine events were dropped: the sweep tells the current state instead."""
        self.record(
            EventKind.EVENTS_DROPPED,
            f"{self.stream.dropped} engine events dropped (queue full); resyncing",
            severity=Severity.WARNING, data={"dropped": self.stream.dropped},
        )
        await self._monitor.sweep()

    async def on_event(self, event: dict[str, Any]) -> None:
        """One engine event: its subscribers first (intent asks the daemon at once whether
        a stop is part of a shutdown), then the observed state, then those that judge the
        event against the state it made; the cursor now and then."""
        await self._bus.publish(EngineEvent(event))
        try:
            await self._monitor.on_event(event)
        finally:
            await self._bus.publish(EngineEventApplied(event))
        now = time.monotonic()
        if now - self._cursor_saved_at >= CURSOR_SAVE_INTERVAL:
            self.save_cursor()
            self._cursor_saved_at = now

    async def sweep(self) -> None:
        """The periodic resync (while the stream is connected), a safety net for events."""
        if not self.stream.connected.is_set():
            return
        await self._monitor.sweep()
        self._heartbeats.beat("sweep")
        if self._settled and not self.synced:  # the resync after connecting had failed
            self.synced = True
            await self._bus.publish(EngineSynced(time.time()))

    def save_cursor(self) -> None:
        """Store where a replay of engine events starts after an agent restart."""
        if self.stream.cursor:
            try:
                self._facts.set(CURSOR_FACT, self.stream.cursor)
            except (sqlite3.Error, OSError) as exc:  # replay starts earlier: no harm
                log.error("event cursor not saved", error=str(exc))

    def record(self, kind: EventKind, message: str, **fields: Any) -> None:
        """Write to the event log; a store failure is logged, not raised."""
        try:
            self._events.record(kind, message, **fields)
        except (sqlite3.Error, OSError) as exc:
            log.error("event log write failed", kind=kind, error=str(exc))
