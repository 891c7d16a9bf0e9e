"""The composition root: builds every part from the settings and runs them in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from stackmedic.alerts.bridge import NotificationBridge
from stackmedic.auth import load_or_create_token
from stackmedic.bus import Bus
from stackmedic.config.model import Settings
from stackmedic.config.secrets import secret_values
from stackmedic.deployments.actions import Action, DeploymentActions
from stackmedic.deployments.catalog import Catalog, CatalogChange
from stackmedic.deployments.events import ActionRequested
from stackmedic.deployments.watcher import CatalogWatcher
from stackmedic.engine.client import EngineClient
from stackmedic.engine.compose import ComposeNotFound, ComposeRunner, find_compose
from stackmedic.engine.events import EventStream
from stackmedic.health import HealthEngine, engine_view
from stackmedic.hostinfo import HostInspector
from stackmedic.intent.tracker import IntentTracker
from stackmedic.metrics import HealthMetrics, Metrics
from stackmedic.notify.service import Notifier
from stackmedic.observe.monitor import ContainerMonitor
from stackmedic.observe.state import ObservedState
from stackmedic.recovery.boot import RestartDetector, RestartKind
from stackmedic.recovery.evidence_gather import EvidenceCollector
from stackmedic.recovery.executor import ActionExecutor
from stackmedic.recovery.exits import ExitLedger
from stackmedic.recovery.policy import RecoveryStateStore
from stackmedic.recovery.reconcile import RestartReconciler
from stackmedic.recovery.runs import RecoveryRuns
from stackmedic.recovery.service import ILL, RecoveryService
from stackmedic.resources import ContainerRef, ResourceMonitor, SpikeAlert
from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.store.facts import Facts
from stackmedic.supervise.supervisor import every
from stackmedic.supervise.watch import STORE_PROBE_SECONDS, AgentWatch

log = structlog.get_logger(__name__)

CURSOR_FACT = "engine-event-cursor"
CURSOR_SAVE_INTERVAL = 1.0
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
        self.token = load_or_create_token(
            settings.api.token.get_secret_value() if settings.api.token else None,
            settings.resolved_token_file,
        )
        self.read_token = load_or_create_token(
            settings.api.read_token.get_secret_value() if settings.api.read_token else None,
            settings.resolved_read_token_file,
        )
        self.engine = EngineClient(
            settings.docker.host, request_timeout=settings.docker.request_timeout_seconds
        )
        self.compose_error: str | None = None
        self.runner: ComposeRunner | None = None
        try:
            if compose is None:
                compose = discover_compose(settings)
            if isinstance(compose, ComposeNotFound):
                raise compose
            self.runner = ComposeRunner(
                compose,
                docker_host=self.engine.host,
                timeout=settings.compose.timeout_seconds,
                config_timeout=settings.compose.config_timeout_seconds,
            )
        except ComposeNotFound as exc:
            self.compose_error = str(exc)
            log.error("compose unavailable", error=self.compose_error)
        self.catalog = Catalog(
            settings.deployments_path, self.runner, self.facts,
            adopt_running=settings.adopt_running,
        )
        self.observed = ObservedState()
        self.monitor = ContainerMonitor(self.engine, self.observed)
        self.bus = Bus()
        supervision = settings.supervision
        self.watch = AgentWatch(supervision)
        self.heartbeats, self.supervisor = self.watch.heartbeats, self.watch.supervisor
        self.systemd = self.watch.systemd
        self.health = HealthEngine(
            catalog=self.catalog, observed=self.observed, desired=self.desired,
            events=self.events, db=self.db, bus=self.bus, config=settings.health,
            view=lambda: engine_view(
                self.engine.status, self.stream.connected.is_set(),
                self.observed.synced_at, self._connected_since,
            ),
            stop_pending=lambda name: self.intent.stop_pending(name),
        )
        self.exits = ExitLedger(self.db, self.catalog,
                                daemon_started_at=lambda: self._daemon_started_at)
        self.monitor.subscribe(self.exits.on_container_change)  # before health reads states
        self.monitor.subscribe(self.health.on_container_change)
        self.health.crashes.stable = settings.recovery.verify_stable_seconds
        self.metrics = Metrics([HealthMetrics(
            self.health, self.catalog, self.observed, lambda: self.engine.status.reachable
        )])
        self.stream = EventStream(
            self.engine,
            self._on_engine_event,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            on_overflow=self._resync,
            cursor=self.facts.get(CURSOR_FACT),
            backoff_initial=settings.docker.reconnect_initial_seconds,
            backoff_max=settings.docker.reconnect_max_seconds,
            beat=lambda: self.heartbeats.beat("events"),
            beat_every=supervision.events_heartbeat_seconds,
        )
        self._connected_since = 0.0
        self._daemon_started_at: float | None = None  # when known, from the daemon's process
        self.intent = IntentTracker(
            self.desired, self.events, self.catalog, self.observed,
            stop_settle_seconds=settings.intent.stop_settle_seconds,
            start_settle_seconds=settings.intent.start_settle_seconds,
            connection=lambda: (
                self.stream.connected.is_set(), self.stream.connections,
                self._daemon_started_at or self._connected_since,
            ),
            bus=self.bus, docker_host=self.engine.host,
        )
        self.actions = DeploymentActions(
            self.catalog, self.runner, self.desired, self.events, self.intent, self.observed,
            bus=self.bus,
        )
        self.bus.subscribe(ActionRequested, lambda e: self.health.on_action(
            e.deployment, Action(e.action)), name="health-requests")
        self.resources = ResourceMonitor(
            settings.resources, self.db, self.engine.docker, on_alert=self._on_spike,
            targets=self._resource_targets, on_oom_kill=self.exits.on_oom_kill,
            oom_kills=self._oom_kills,
        )
        self.metrics.sources.append(self.resources)
        self.host_report = HostInspector(
            engine=self.engine, resources=self.resources, config=settings.resources,
            compose_command=self.runner.command if self.runner else None,
            compose_error=self.compose_error,
        )
        self._build_recovery(settings)
        self.notifier = Notifier(settings.notifications, self.db, record_event=self._record_event)
        self.notifications = NotificationBridge(self.notifier, self.bus, settings.recovery)
        self.watcher = CatalogWatcher(
            self.catalog, self.observed, self.desired, self.events,
            can_see=lambda: self.stream.connected.is_set() and self.observed.synced_at is not None,
            after=self.health.refresh, on_removed=self.notifications.deployment_removed,
        )
        self._cursor_saved_at = 0.0
        self._stopping = asyncio.Event()
        self._closing = False
        self._closed = False
        self.ready = asyncio.Event()
        self.server: Any = None
        self.watch.watch_loops(
            settings, engine=self.engine, stream=self.stream, resources=self.resources,
            notifier=self.notifier, db=self.db, started_at=self.started_at,
        )

    def _build_recovery(self, settings: Settings) -> None:
        self._adviser = None
        if settings.recovery.llm is not None:
            from stackmedic.recovery.llm import LlmAdviser

            self._adviser = LlmAdviser(settings.recovery.llm, secrets=self.known_secrets())
        resources = getattr(self, "resources", None)
        self.recovery = RecoveryService(
            settings.recovery,
            catalog=self.catalog, desired=self.desired, health=self.health,
            events=self.events, bus=self.bus, actions=self.actions,
            executor=ActionExecutor(self.runner, self.engine),
            collector=EvidenceCollector(
                self.engine, self.runner, self.observed, self.desired,
                log_tail_lines=settings.recovery.log_tail_lines,
                memory_trend=resources.memory_trend if resources is not None else None,
                secrets=self.known_secrets,
            ),
            runs=RecoveryRuns(self.db), states=RecoveryStateStore(self.db),
            adviser=self._adviser, stop_pending=self.intent.stop_pending,
            containers=self.observed.for_project, oom_kills=self.exits.oom_kills,
        )
        self.bus.subscribe(ActionRequested, lambda e: self.recovery.on_action(
            e.deployment, Action(e.action)), name="recovery-requests")
        self.reconciler = RestartReconciler(
            self.recovery, catalog=self.catalog, desired=self.desired, health=self.health,
            engine=self.engine, events=self.events, bus=self.bus,
            containers=self.observed.for_project,
        )
        self._first_connection = True
        self.restarts = RestartDetector(self.facts, settings.boot_id_path, self.engine.host)

    def _resource_targets(self) -> list[ContainerRef]:
        """Running containers of known deployments, for the resource sampler."""
        refs = []
        for name, deployment in self.catalog.deployments.items():
            for c in self.observed.for_project(deployment.project):
                if c.running:
                    refs.append(ContainerRef(c.id, name, c.service, c.name))
        return refs

    def _oom_kills(self, ref: ContainerRef) -> int:
        """OOM kills of a sampled container's service, from the exit ledger's one count."""
        deployment = self.catalog.deployments.get(ref.deployment)
        return self.exits.oom_kills(deployment.project, ref.service) if deployment else 0

    async def _on_spike(self, alert: SpikeAlert) -> None:
        await self.notifications.on_spike(alert)

    def _record_event(self, kind: str, message: str, *, deployment: str | None,
                      severity: str, data: dict[str, Any] | None) -> None:
        self.events.record(kind, message, deployment=deployment, severity=severity, data=data)

    def known_secrets(self) -> list[str]:
        """Secret values from the config, never to be shown anywhere."""
        found = [self.token, self.read_token]
        for value in secret_values(self.settings):
            found.append(value)
        return [v for v in found if v]

    async def _after_connect(self, kind: RestartKind, first: bool) -> None:
        """Reconcile according to what kind of restart happened."""
        if kind in (RestartKind.HOST, RestartKind.DAEMON):
            self.events.record(
                "restart-detected",
                f"{kind.value} restart detected; reconciling every deployment",
                severity="warning", data={"restart": kind.value},
            )
            if self.settings.recovery.enabled and not self.supervisor.running("restart-reconcile"):
                self.supervisor.spawn(
                    "restart-reconcile", lambda: self.reconciler.run(kind), restart=False
                )
            return
        if not first:
            return
        self.events.record(
            "restart-detected",
            "first start of the agent on this host" if kind == RestartKind.FIRST_RUN
            else "agent restarted (host and Docker daemon kept running)",
            data={"restart": kind.value},
        )
        for name in self.catalog.deployments:
            health = self.health.evaluate(name)
            if health is not None and health.verdict in ILL:
                self.recovery.schedule(name, "agent-start", self.settings.recovery.settle_seconds)

    # -- engine callbacks -------------------------------------------------------------

    async def _on_connected(self) -> None:
        # Only the resync is essential here: a store that cannot write (a full disk) must
        # not end the event stream, so everything else is done as well as it can be.
        self._connected_since = time.time()
        self._save_cursor()
        first, self._first_connection = self._first_connection, False
        kind = await self.restarts.detect(first=first)
        self._daemon_started_at = self.restarts.daemon_started_at
        if kind in (RestartKind.HOST, RestartKind.DAEMON) and self._daemon_started_at is None:
            self._daemon_started_at = self._connected_since  # the best bound visible
        if kind in (RestartKind.HOST, RestartKind.DAEMON):
            # The reconcile owns every deployment now: no piecemeal runs from the resync.
            self.recovery.reconciling = True
            self.recovery.cancel_all()
        self._record("docker-connected", f"connected to Docker at {self.engine.host}")
        await self._best_effort("notify docker back", self.notifications.docker_back,
                                self.engine.host)
        try:
            await self.monitor.sweep()
        except Exception as exc:  # the stream's own error handling reconnects
            log.warning("resync after connect failed", error=str(exc))
        await self._best_effort("intent after connect", self.intent.on_connected)
        await self._best_effort("rescan after connect", self.refresh_catalog)
        await self._best_effort("reconcile after connect", self._after_connect, kind, first)
        await self._best_effort("host report", self.host_report.refresh)
        self.notifications.connection_settled()

    def _record(self, kind: str, message: str, **fields: Any) -> None:
        """Write to the event log; a store failure is logged, not raised (see ``store``)."""
        try:
            self.events.record(kind, message, **fields)
        except (sqlite3.Error, OSError) as exc:
            log.error("event log write failed", kind=kind, error=str(exc))

    async def _best_effort(self, what: str, step: Callable[..., Awaitable[object]],
                           *args: Any) -> None:
        try:
            await step(*args)
        except Exception:
            log.exception(f"{what} failed")

    async def _resync(self) -> None:
        """Engine events were dropped: the sweep tells the current state instead."""
        self._record(
            "events-dropped",
            f"{self.stream.dropped} engine events dropped (queue full); resyncing",
            severity="warning", data={"dropped": self.stream.dropped},
        )
        await self.monitor.sweep()

    async def _on_disconnected(self) -> None:
        if self._closing:
            return  # the agent ends the stream itself
        await self._best_effort("intent after disconnect", self.intent.on_disconnected)
        try:
            self.notifications.docker_lost(self.engine.host)
        except Exception:
            log.exception("notify docker lost failed")
        self._record(
            "docker-disconnected", "lost the Docker event stream; reconnecting",
            severity="warning",
        )

    async def _on_engine_event(self, event: dict[str, Any]) -> None:
        # Intent first: it asks the daemon at once whether a stop is part of a shutdown.
        await self.intent.on_event(event)
        await self.monitor.on_event(event)
        now = time.monotonic()
        if now - self._cursor_saved_at >= CURSOR_SAVE_INTERVAL:
            self._save_cursor()
            self._cursor_saved_at = now

    def _save_cursor(self) -> None:
        if self.stream.cursor:
            try:
                self.facts.set(CURSOR_FACT, self.stream.cursor)
            except (sqlite3.Error, OSError) as exc:  # replay starts earlier: no harm
                log.error("event cursor not saved", error=str(exc))

    # -- deployments ------------------------------------------------------------------

    async def refresh_catalog(self) -> CatalogChange:
        """Rescan deployments (see ``CatalogWatcher.refresh``)."""
        return await self.watcher.refresh()

    # -- loops ------------------------------------------------------------------------

    async def _sweep(self) -> None:
        if self.stream.connected.is_set():
            await self.monitor.sweep()
            self.heartbeats.beat("sweep")

    async def _probe_store(self) -> None:
        self.watch.probe_store(self.db)

    async def _prune(self) -> None:
        removed = self.events.prune(self.settings.event_retention_days * 86400)
        if removed:
            log.info("event log pruned", removed=removed)
        self.health.prune(self.settings.event_retention_days * 86400)

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start every background part and the API server; return once the API listens."""
        from stackmedic.api.server import start_api_server

        self.events.record("agent-started", "stackmedic agent started")
        await self.refresh_catalog()
        self.heartbeats.start()
        spawn = self.supervisor.spawn
        spawn("events", self.stream.run)
        spawn("sweep", every(self.settings.health.sweep_interval_seconds, self._sweep))
        spawn("rescan", every(self.settings.rescan_interval_seconds, self.refresh_catalog,
                              beat=lambda: self.heartbeats.beat("rescan")))
        spawn("prune", every(3600, self._prune))
        spawn("store", every(STORE_PROBE_SECONDS, self._probe_store))
        self.recovery.start()
        await self.resources.start()
        await self._best_effort("host report", self.host_report.refresh)
        await self.notifier.start()
        self.notifications.start()
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
        self._closed = self._closing = self.watch.closing = True
        self.systemd.stopping()
        steps: list[tuple[str, Callable[[], Awaitable[object] | object]]] = [
            ("api", lambda: self.server.stop() if self.server is not None else None),
            # Intent first: whether the stream is still connected to a daemon that accepts
            # connections decides pending stops (systemd stops the agent before Docker).
            ("intent", self.intent.close),
            ("inputs", lambda: self.supervisor.stop(INPUT_TASKS, timeout=SHUTDOWN_TIMEOUT)),
            ("resources", self.resources.close),
            ("bus", self.bus.close),
            ("tasks", lambda: self.supervisor.close(timeout=SHUTDOWN_TIMEOUT)),
            ("recovery", self.recovery.close),
            ("adviser", lambda: self._adviser.aclose() if self._adviser is not None else None),
            ("notifications", self.notifications.close),
            ("notifier", lambda: self.notifier.close(grace=2.0)),
            ("health", self.health.close),
            ("engine", self.engine.close),
            ("cursor", self._save_cursor),
            ("event-log", lambda: self.events.record("agent-stopped", "stackmedic agent stopped")),
            ("store", self.db.close),
        ]
        for name, step in steps:
            try:
                result = step()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # one part failing to close must not leave the rest open
                log.exception("closing failed", part=name)


def discover_compose(settings: Settings) -> list[str] | ComposeNotFound:
    """The Compose v2 command, or why there is none (runs subprocesses: keep off the loop)."""
    try:
        return find_compose(settings.compose.command)
    except ComposeNotFound as exc:
        return exc


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
        agent = Agent(settings, compose=await asyncio.to_thread(discover_compose, settings))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent.request_stop)
        await agent.async_run()

    asyncio.run(main())
