"""The composition root: builds every part from the settings and runs them in one loop."""

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
from stackmedic.engine.healthchecks import HealthcheckRunner
from stackmedic.engine.identity import EngineKind
from stackmedic.engine.podman import PodmanEvents
from stackmedic.health import HealthEngine, engine_view
from stackmedic.hostinfo.inspector import HostInspector
from stackmedic.intent.tracker import IntentTracker
from stackmedic.metrics import Metrics
from stackmedic.metrics.agent_state import AgentMetrics, ReconcileCounter
from stackmedic.metrics.cadvisor import CadvisorMetrics
from stackmedic.metrics.deployments import DeploymentMetrics, open_problems
from stackmedic.metrics.health import HealthMetrics
from stackmedic.notify.service import Notifier
from stackmedic.observe.monitor import ContainerMonitor
from stackmedic.observe.state import ObservedState
from stackmedic.recovery.boot import RestartDetector
from stackmedic.recovery.evidence_gather import EvidenceCollector
from stackmedic.recovery.executor import ActionExecutor
from stackmedic.recovery.exits import ExitLedger
from stackmedic.recovery.policy import RecoveryStateStore
from stackmedic.recovery.reconcile import RestartReconciler
from stackmedic.recovery.runs import RecoveryRuns
from stackmedic.recovery.service import RecoveryService
from stackmedic.resources import ContainerRef, ResourceMonitor, SpikeAlert
from stackmedic.session import CURSOR_FACT, EngineSession, best_effort
from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.store.facts import Facts
from stackmedic.supervise.supervisor import every
from stackmedic.types import EventKind, Severity
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
                self.observed.synced_at, self.session.connected_since,
            ),
            stop_pending=lambda name: self.intent.stop_pending(name),
        )
        self.exits = ExitLedger(self.db, self.catalog,
                                daemon_started_at=lambda: self.session.daemon_started_at)
        self.monitor.subscribe(self.exits.on_container_change)  # before health reads states
        self.monitor.subscribe(self.health.on_container_change)
        self.health.crashes.stable = settings.recovery.verify_stable_seconds
        self.metrics = Metrics([HealthMetrics(
            self.health, self.catalog, self.observed, lambda: self.engine.status.reachable
        )], host=settings.notifications.host_name())
        # Podman tells its events in its own words; translated before anyone reads them.
        self.podman_events = PodmanEvents(
            lambda event: self.session.on_event(event),
            active=lambda: self.engine.kind is EngineKind.PODMAN)
        self.healthchecks = HealthcheckRunner(
            self.engine, self._podman_containers, on_decided=self._on_healthcheck_runner)
        self.stream = EventStream(
            self.engine,
            self.podman_events.on_event,
            on_connected=lambda: self.session.on_connected(),
            on_disconnected=lambda: self.session.on_disconnected(),
            on_overflow=lambda: self.session.on_overflow(),
            cursor=self.facts.get(CURSOR_FACT),
            backoff_initial=settings.docker.reconnect_initial_seconds,
            backoff_max=settings.docker.reconnect_max_seconds,
            beat=lambda: self.heartbeats.beat("events"),
            beat_every=supervision.events_heartbeat_seconds,
        )
        self.intent = IntentTracker(
            self.desired, self.events, self.catalog, self.observed,
            stop_settle_seconds=settings.intent.stop_settle_seconds,
            start_settle_seconds=settings.intent.start_settle_seconds,
            connection=lambda: (
                self.stream.connected.is_set(), self.stream.connections,
                self.session.daemon_started_at or self.session.connected_since,
            ),
            bus=self.bus, docker_host=self.engine.host, to_engine=self.engine.to_engine,
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
        self._add_metric_sources(settings)
        self.watcher = CatalogWatcher(
            self.catalog, self.observed, self.desired, self.events,
            can_see=lambda: self.stream.connected.is_set() and self.observed.synced_at is not None,
            after=self.health.refresh, on_removed=self.notifications.deployment_removed,
        )
        self.session = EngineSession(
            engine=self.engine, stream=self.stream, facts=self.facts, events=self.events,
            monitor=self.monitor, intent=self.intent, health=self.health, catalog=self.catalog,
            refresh_catalog=self.refresh_catalog, notifications=self.notifications,
            recovery=self.recovery, reconciler=self.reconciler,
            restarts=RestartDetector(self.facts, settings.boot_id_path, self.engine.host,
                                     engine_kind=lambda: self.engine.kind),
            supervisor=self.supervisor, refresh_host=self.host_report.refresh,
            flush_held_events=self.podman_events.flush,
        )
        self._stopping = asyncio.Event()
        self._closed = False
        self.ready = asyncio.Event()
        self.server: Any = None
        self.watch.watch_loops(
            settings, engine=self.engine, stream=self.stream, resources=self.resources,
            notifier=self.notifier, db=self.db, started_at=self.started_at,
            recovery_problems=self.recovery.problems,
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
            supervisor=self.supervisor,
        )
        self.bus.subscribe(ActionRequested, lambda e: self.recovery.on_action(
            e.deployment, Action(e.action)), name="recovery-requests")
        self.reconciler = RestartReconciler(
            self.recovery, catalog=self.catalog, desired=self.desired, health=self.health,
            engine=self.engine, events=self.events, bus=self.bus,
            containers=self.observed.for_project,
        )

    def _add_metric_sources(self, settings: Settings) -> None:
        """The fleet and cAdvisor-compatible families on /metrics."""
        self.reconciles = ReconcileCounter(self.facts)
        self.reconciles.subscribe(self.bus)
        self.metrics.add(DeploymentMetrics(
            self.db, self.desired, deployments=lambda: list(self.catalog.deployments),
            open_problems=lambda: open_problems(
                self.notifications.episodes.open, self.resources.alerts("firing")
            ),
        ))
        self.metrics.add(AgentMetrics(self.db, self.reconciles, self.heartbeats))
        if settings.metrics.cadvisor:
            self.metrics.add(CadvisorMetrics(self.resources.latest, self.observed.get))

    def _resource_targets(self) -> list[ContainerRef]:
        """Running containers of known deployments, for the resource sampler."""
        refs = []
        for name, deployment in self.catalog.deployments.items():
            for c in self.observed.for_project(deployment.project):
                if c.running:
                    refs.append(ContainerRef(c.id, name, c.service, c.name))
        return refs

    def _podman_containers(self) -> list[Any]:
        """Containers of known deployments, when the engine is Podman (for healthchecks)."""
        if self.engine.kind is not EngineKind.PODMAN or not self.stream.connected.is_set():
            return []
        return [c for d in self.catalog.deployments.values()
                for c in self.observed.for_project(d.project)]

    def _on_healthcheck_runner(self, missing: bool, reason: str) -> None:
        kind = (EventKind.HEALTHCHECKS_RUN_BY_STACKMEDIC if missing
                else EventKind.HEALTHCHECKS_RUN_BY_PODMAN)
        self.session.record(kind, reason, severity="warning" if missing else "info")

    def _oom_kills(self, ref: ContainerRef) -> int:
        """OOM kills of a sampled container's service, from the exit ledger's one count."""
        deployment = self.catalog.deployments.get(ref.deployment)
        return self.exits.oom_kills(deployment.project, ref.service) if deployment else 0

    async def _on_spike(self, alert: SpikeAlert) -> None:
        await self.notifications.on_spike(alert)

    def _record_event(self, kind: EventKind, message: str, *, deployment: str | None,
                      severity: Severity, data: dict[str, Any] | None) -> None:
        self.events.record(kind, message, deployment=deployment, severity=severity, data=data)

    def known_secrets(self) -> list[str]:
        """Secret values from the config, never to be shown anywhere."""
        found = [self.token, self.read_token]
        for value in secret_values(self.settings):
            found.append(value)
        return [v for v in found if v]

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

        self.events.record(EventKind.AGENT_STARTED, "stackmedic agent started")
        await self.refresh_catalog()
        # Consumers subscribe before the inputs start: the first connection may publish at
        # once (a restart reconcile begins), and what nobody heard is lost.
        self.recovery.start()
        await self.notifier.start()
        self.notifications.start()
        await self.resources.start()
        await best_effort("host report", self.host_report.refresh)
        self.heartbeats.start()
        spawn = self.supervisor.spawn
        spawn("events", self.stream.run)
        spawn("sweep", every(self.settings.health.sweep_interval_seconds, self._sweep))
        spawn("rescan", every(self.settings.rescan_interval_seconds, self.refresh_catalog,
                              beat=lambda: self.heartbeats.beat("rescan")))
        spawn("prune", every(3600, self._prune))
        spawn("healthchecks", every(1.0, self.healthchecks.tick))
        spawn("store", every(STORE_PROBE_SECONDS, self._probe_store))
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
            # connections decides pending stops (systemd stops the agent before Docker).
            ("intent", self.intent.close),
            ("inputs", lambda: self.supervisor.stop(INPUT_TASKS, timeout=SHUTDOWN_TIMEOUT)),
            ("podman-events", self.podman_events.close),
            ("resources", self.resources.close),
            ("bus", self.bus.close),
            ("tasks", lambda: self.supervisor.close(timeout=SHUTDOWN_TIMEOUT)),
            ("recovery", self.recovery.close),
            ("adviser", lambda: self._adviser.aclose() if self._adviser is not None else None),
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
