"""The composition root: builds every part from the settings, wires them, runs them."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from stackmedic.alerts.bridge import NotificationBridge
from stackmedic.bus import Bus
from stackmedic.config.model import Settings
from stackmedic.config.secrets import api_tokens, known_secrets
from stackmedic.deployments.actions import DeploymentActions
from stackmedic.deployments.catalog import Catalog, CatalogChange
from stackmedic.deployments.containers import DeploymentContainers
from stackmedic.deployments.scale import ScaleKeeper
from stackmedic.deployments.watcher import CatalogWatcher
from stackmedic.engine.client import EngineClient
from stackmedic.engine.compose import ComposeNotFound, compose_runner, discover_compose
from stackmedic.health import HealthEngine
from stackmedic.hostinfo.inspector import HostInspector
from stackmedic.intent.tracker import IntentTracker
from stackmedic.logwatch.build import build_logwatch
from stackmedic.metrics.build import build_metrics
from stackmedic.notify.service import Notifier
from stackmedic.observe.events import (
    ConnectionSettled,
    ContainerChanged,
    EngineConnected,
    EngineEvent,
    EngineEventApplied,
    EngineLost,
    EngineReached,
    EngineSynced,
)
from stackmedic.observe.healthchecks import HealthcheckRunner
from stackmedic.observe.monitor import ContainerMonitor
from stackmedic.observe.session import EngineSession
from stackmedic.observe.state import ObservedState
from stackmedic.probes import build_probes
from stackmedic.probes.build import TICK_SECONDS as PROBE_TICK_SECONDS
from stackmedic.recovery.build import build_recovery
from stackmedic.recovery.exits import ExitLedger
from stackmedic.resources import ResourceMonitor
from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.store.facts import Facts
from stackmedic.store.retention import Retention
from stackmedic.supervise.supervisor import best_effort, every
from stackmedic.types import EventKind
from stackmedic.watch import STORE_PROBE_SECONDS, AgentWatch

log = structlog.get_logger(__name__)

SHUTDOWN_TIMEOUT = 3.0  # SIGTERM to exit stays well under 10 s
INPUT_TASKS = ("events", "sweep", "rescan", "store")


class Agent:
    """One stackmedic agent: store, engine access, deployments, intent, API."""

    def __init__(
        self, settings: Settings, *, compose: list[str] | ComposeNotFound | None = None
    ) -> None:
        """Build every part; ``compose`` is the Compose command when already looked up
        (``discover_compose`` off the event loop), else it is looked up here."""
        self.settings = settings
        self.started_at = time.time()
        self.db = Database(settings.database_path)
        self.desired = DesiredStateStore(self.db)
        self.events = EventLog(self.db)
        self.facts = Facts(self.db)
        self.token, self.read_token = api_tokens(settings)
        self.engine = EngineClient(
            settings.docker.host, request_timeout=settings.docker.request_timeout_seconds
        )
        self.runner, self.compose_error = compose_runner(
            discover_compose(settings.compose.command) if compose is None else compose,
            docker_host=self.engine.host, timeout=settings.compose.timeout_seconds,
            config_timeout=settings.compose.config_timeout_seconds,
        )
        self.catalog = Catalog(
            settings.deployments_path, self.runner, self.facts,
            adopt_running=settings.adopt_running,
        )
        self.observed = ObservedState()
        self.bus = Bus()
        self.monitor = ContainerMonitor(self.engine, self.observed, self.bus)
        self.watch = AgentWatch(settings.supervision)
        self.heartbeats, self.supervisor = self.watch.heartbeats, self.watch.supervisor
        self.systemd = self.watch.systemd
        self.scale = ScaleKeeper(self.observed.for_project, self.desired.scales)
        self.health = HealthEngine(
            catalog=self.catalog, observed=self.observed, desired=self.desired,
            events=self.events, db=self.db, bus=self.bus, config=settings.health,
            engine=self.engine.status, scale=self.scale,
        )
        self.health.crashes.stable = settings.recovery.verify_stable_seconds
        self.exits = ExitLedger(self.db, self.catalog)
        self.session = EngineSession(
            self.engine, self.monitor, self.bus, facts=self.facts, events=self.events,
            boot_id_path=settings.boot_id_path, docker=settings.docker,
            heartbeats=self.heartbeats,
            beat_every=settings.supervision.events_heartbeat_seconds,
        )
        self.stream = self.session.stream
        containers = DeploymentContainers(self.catalog, self.observed)
        self.healthchecks = HealthcheckRunner(self.engine, containers.all, self.events)
        self.intent = IntentTracker(
            self.desired, self.events, self.catalog, self.observed,
            stop_settle_seconds=settings.intent.stop_settle_seconds,
            start_settle_seconds=settings.intent.start_settle_seconds,
            bus=self.bus, docker_host=self.engine.host, to_engine=self.engine.to_engine,
        )
        self.actions = DeploymentActions(
            self.catalog, self.runner, self.desired, self.events, self.intent, self.observed,
            bus=self.bus, scale=self.scale,
        )
        self.notifier = Notifier(settings.notifications, self.db, record_event=self.events.record)
        self.notifications = NotificationBridge(self.notifier, self.bus, settings.recovery,
                                                verdict_of=self.health.verdict,
                                                resume_settle=settings.health.flap_seconds)
        self.resources = ResourceMonitor(
            settings.resources, self.db, self.engine.docker,
            on_alert=self.notifications.on_spike, targets=containers.sampled,
            on_oom_kill=self.exits.on_oom_kill, oom_kills=self.exits.oom_kills_of,
        )
        self.host_report = HostInspector(
            engine=self.engine, resources=self.resources, config=settings.resources,
            compose_command=self.runner.command if self.runner else None,
            compose_error=self.compose_error,
        )
        self.logwatch = build_logwatch(
            settings.logs, settings.recovery.llm, self.db, engine=self.engine, catalog=self.catalog,
            observed=self.observed, submit=self.notifications.submit,
            secrets=known_secrets(settings, self.token, self.read_token),
        )
        self.recovery_parts = build_recovery(
            settings.recovery, db=self.db, bus=self.bus, catalog=self.catalog,
            desired=self.desired, events=self.events, observed=self.observed,
            health=self.health, intent=self.intent, actions=self.actions, exits=self.exits,
            resources=self.resources, engine=self.engine, runner=self.runner,
            supervisor=self.supervisor, scale=self.scale,
            secrets=known_secrets(settings, self.token, self.read_token),
            log_fingerprints=self.logwatch.watch.recent,
        )
        self.health.log_problems = self.logwatch.watch.health_problems
        self.logwatch.watch.on_health = self.health.refresh
        self.recovery = self.recovery_parts.service
        self.metrics = build_metrics(
            host=settings.notifications.host_name(), cadvisor=settings.metrics.cadvisor,
            bus=self.bus, db=self.db, facts=self.facts, desired=self.desired,
            catalog=self.catalog, observed=self.observed, engine=self.engine,
            health=self.health, resources=self.resources, notifications=self.notifications,
            heartbeats=self.heartbeats,
            config=settings.metrics,
        )
        self.probes = build_probes(
            settings.probes, catalog=self.catalog, observed=self.observed, health=self.health,
            engine=self.engine, submit=self.notifications.submit,
        )
        self.metrics.add(self.probes.metrics)
        self.watcher = CatalogWatcher(
            self.catalog, self.observed, self.desired, self.events,
            after=self.health.refresh, on_removed=self.notifications.deployment_removed,
        )
        self.retention = Retention(settings.event_retention_days,
                                   events=self.events, health=self.health)
        self._listen()
        self._stopping = asyncio.Event()
        self._closed = False
        self.ready = asyncio.Event()
        self.server: Any = None
        self.watch.watch_loops(
            settings, engine=self.engine, stream=self.stream, resources=self.resources,
            notifier=self.notifier, db=self.db, started_at=self.started_at,
            recovery_problems=self.recovery.problems,
        )

    def _listen(self) -> None:
        """Who hears what the engine session and the monitor tell, in the order that matters.

        The bus awaits each subscriber in turn (a failing one is logged, the rest still
        hear): the exit ledger annotates a state before health reads it; after the resync
        health may report, intent judges the stops left pending, then the rescan, then a
        reconcile (or the recovery of ill deployments); on loss, health stops reporting
        before Podman's held events are told, and those before intent judges the stops.
        """
        on = self.bus.subscribe_each
        on(ContainerChanged, self.exits.on_container_change, self.health.on_container_change)
        on(EngineEvent, self.intent.on_engine_event)
        on(EngineEventApplied, self.intent.on_engine_event_applied)
        on(EngineReached, self.exits.on_engine_reached, self.recovery.on_engine_reached,
           self.notifications.on_engine_reached)
        on(EngineConnected, self.health.on_engine_connected,
           self.healthchecks.on_engine_connected, self.intent.on_engine_connected,
           self.watcher.on_engine_connected, self.recovery_parts.reconciler.on_engine_connected,
           self.host_report.on_engine_connected)
        on(ConnectionSettled, self.notifications.on_connection_settled)
        on(EngineSynced, self.health.on_engine_synced, self.watcher.on_engine_synced)
        on(EngineLost, self.health.on_engine_lost, self.watcher.on_engine_lost,
           # Podman's held events are told before anyone judges the stops they saw.
           self.healthchecks.on_engine_lost, lambda _: self.session.podman.flush(),
           self.intent.on_engine_lost, self.notifications.on_engine_lost)

    async def refresh_catalog(self) -> CatalogChange:
        """Rescan deployments (see ``CatalogWatcher.refresh``)."""
        return await self.watcher.refresh()

    async def _probe_store(self) -> None:
        self.watch.probe_store(self.db)

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start every background part and the API server; return once the API listens."""
        self.events.record(EventKind.AGENT_STARTED, "stackmedic agent started")
        await self.refresh_catalog()
        # Consumers subscribe before the inputs start: the first connection may publish at
        # once (a restart reconcile begins), and what nobody heard is lost.
        self.recovery.start()
        await self.intent.start()
        await self.notifier.start()
        self.notifications.start()
        await self.resources.start()
        self.logwatch.start(self.notifier, self.supervisor.spawn, self.bus)
        await best_effort("host report", self.host_report.refresh)
        self.heartbeats.start()
        spawn = self.supervisor.spawn
        spawn("events", self.stream.run)
        spawn("sweep", every(self.settings.health.sweep_interval_seconds, self.session.sweep))
        spawn("rescan", every(self.settings.rescan_interval_seconds, self.refresh_catalog,
                              beat=lambda: self.heartbeats.beat("rescan")))
        spawn("prune", every(3600, self.retention.prune))
        spawn("healthchecks", every(1.0, self.healthchecks.tick))
        spawn("store", every(STORE_PROBE_SECONDS, self._probe_store))
        for name, loop in self.metrics.loops.items():
            spawn(name, loop)
        spawn("probes", every(PROBE_TICK_SECONDS, self.probes.tick))
        # Imported in a thread, like the app is built (see ``start_api_server``).
        start_api_server = await asyncio.to_thread(_api_server_starter)
        self.server = await start_api_server(self)
        if self.systemd.watchdog_seconds is not None:
            spawn("watchdog", self.watch.feed_watchdog)
        self.systemd.ready(f"API on port {self.server.port}")
        self.ready.set()

    def liveness(self) -> dict[str, Any]:
        """Every loop's heartbeat and every task's failures (see ``AgentWatch``)."""
        return self.watch.liveness()

    def request_stop(self) -> None:
        """Ask ``async_run`` to shut down."""
        self._stopping.set()

    async def async_run(self) -> None:
        """Run until ``request_stop`` (tests and embedding call this); always closes."""
        try:
            await self.start()
            await self._stopping.wait()
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop inputs, then consumers, then stores; in-flight work gets a short grace.

        Inputs (API, engine stream, sweeps, sampler) stop first so nothing new arrives; the
        bus then drops its subscriptions so late events start no recovery or timer; then
        consumers end; the store closes last. Safe after a failed ``start``.
        """
        if self._closed:
            return
        self._closed = self.session.closing = self.watch.closing = True
        self.systemd.stopping()
        steps: list[tuple[str, Callable[[], Awaitable[object] | object]]] = [
            ("api", lambda: self.server.stop() if self.server is not None else None),
            # Intent first: whether the stream is still connected to a daemon that accepts
            # connections decides pending stops (a daemon shutting down refuses them).
            ("intent", self.intent.close),
            ("inputs", lambda: self.supervisor.stop(INPUT_TASKS, timeout=SHUTDOWN_TIMEOUT)),
            ("podman-events", self.session.podman.close),
            ("resources", self.resources.close),
            ("logs", self.logwatch.close),
            ("bus", self.bus.close),
            ("tasks", lambda: self.supervisor.close(timeout=SHUTDOWN_TIMEOUT)),
            ("recovery", self.recovery.close),
            ("probes", self.probes.close),
            ("adviser", self.recovery_parts.aclose),
            ("notifications", self.notifications.close),
            ("notifier", lambda: self.notifier.close(grace=2.0)),
            ("health", self.health.close),
            ("engine", self.engine.close),
            ("cursor", self.session.save_cursor),
            ("event-log", lambda: self.events.record(EventKind.AGENT_STOPPED,
                                                     "stackmedic agent stopped")),
            ("store", self.db.close),
        ]
        for name, step in steps:
            try:
                result = step()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # one part failing to close must not leave the rest open
                log.exception("closing failed", part=name)


def raise_file_limit() -> None:
    """Lift the soft open-files limit to the hard one (cgroup files are kept open)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(settings: Settings) -> None:
    """Run an agent in this process until SIGTERM or SIGINT."""
    raise_file_limit()

    async def main() -> None:
        compose = await asyncio.to_thread(discover_compose, settings.compose.command)
        agent = Agent(settings, compose=compose)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent.request_stop)
        await agent.async_run()

    asyncio.run(main())


def _api_server_starter() -> Callable[[Agent], Awaitable[Any]]:
    """The API server's entry point, its web stack imported on first use."""
    from stackmedic.api.server import start_api_server

    return start_api_server
