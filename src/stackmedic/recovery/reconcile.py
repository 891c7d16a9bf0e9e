"""After a host or daemon restart: bring every deployment back and report in one summary.

The reconciler hears from the engine session what each connection found
(``EngineConnected``): after a host or daemon restart it reconciles every deployment; on
the agent's first connection without one, the ill deployments get a recovery run. It
tells the rest of the agent ``RestartReconcileStarted`` and ``RestartReconcileFinished``
around its runs, then the summary (``recovery.summary``). A restart found while the
reconcile of an earlier one still runs (a second reboot minutes after the first) cuts that
one short: its runs end ``interrupted`` (never a failure), and the next summary covers
both; a durable marker tells the same to an agent started after a host reboot.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import aiodocker
import structlog

from stackmedic.bus import Bus
from stackmedic.deployments.actions import DeploymentActions
from stackmedic.deployments.catalog import Catalog
from stackmedic.engine.client import EngineClient
from stackmedic.health.engine import HealthEngine
from stackmedic.health.model import Verdict
from stackmedic.intent.events import IntentDecided
from stackmedic.observe.boot import RestartKind
from stackmedic.observe.containers import ContainerState
from stackmedic.observe.events import EngineConnected
from stackmedic.recovery.config import boot_parallelism
from stackmedic.recovery.docker_part import awaiting_docker
from stackmedic.recovery.events import (
    RecoveryEvent,
    RestartReconcileFinished,
    RestartReconcileStarted,
)
from stackmedic.recovery.outcome import RunResult
from stackmedic.recovery.service import ILL, RecoveryService
from stackmedic.recovery.summary import RestartSummary, place
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog, EventQuery
from stackmedic.store.facts import Facts
from stackmedic.supervise.supervisor import Supervisor
from stackmedic.types import DesiredState, EventKind, Severity

__all__ = ["RestartReconciler", "RestartSummary", "place"]

log = structlog.get_logger(__name__)

WAIT_POLL_SECONDS = 0.25
TASK = "restart-reconcile"
PENDING_FACT = "restart-reconcile-pending"  # the restart whose reconcile has not ended
STOP_TIMEOUT = 30.0
# Deployments that take this long or longer to be ready act first, the rest once they have
# acted (or after HEAD_START_CAP_SECONDS): on a small host the first starts otherwise share
# the CPU with every other run's, and the slowest to be ready bound when all are up.
HEAD_START_SECONDS = 2.0
HEAD_START_CAP_SECONDS = 5.0
NOT_FOUND = "its compose folder is gone (or not mounted); stackmedic no longer watches it"


class RestartReconciler:
    """Reconciles every deployment after a restart, with bounded parallelism."""

    def __init__(
        self,
        recovery: RecoveryService,
        *,
        catalog: Catalog,
        desired: DesiredStateStore,
        health: HealthEngine,
        engine: EngineClient,
        events: EventLog,
        bus: Bus,
        containers: Callable[[str], list[ContainerState]] = lambda project: [],
        supervisor: Supervisor | None = None,
        facts: Facts | None = None,
        actions: DeploymentActions | None = None,
        stop_pending: Callable[[str], bool] = lambda name: False,
    ) -> None:
        self._recovery = recovery
        self._supervisor = supervisor or Supervisor()
        self._catalog = catalog
        self._desired = desired
        self._health = health
        self._engine = engine
        self._events = events
        self._bus = bus
        self._containers = containers
        self._facts = facts
        self._actions = actions
        self._stop_pending = stop_pending
        self.last: RestartSummary | None = None
        self._uncertain: dict[str, IntentDecided] = {}
        bus.subscribe(IntentDecided, self._on_intent, name="reconcile-intent")

    async def on_engine_connected(self, event: EngineConnected) -> None:
        """Reconcile after a host or daemon restart; on the agent's first connection
        without one, schedule a recovery of each ill deployment."""
        if event.restarted:
            kind = event.restart
            self._events.record(
                EventKind.RESTART_DETECTED,
                f"{kind.value} restart detected; reconciling every deployment",
                severity=Severity.WARNING, data={"restart": kind.value},
            )
            if not self._recovery.config.enabled:
                return
            if self._supervisor.running(TASK):
                # Cut the earlier reconcile short (its marker stays, so this one's summary
                # names it): what it verified is stale now that the daemon went down again.
                await self._supervisor.stop((TASK,), timeout=STOP_TIMEOUT)
            self._supervisor.spawn(TASK, lambda: self.run(kind), restart=False)
            return
        if not event.first:
            return
        self._set_pending(None)  # a reconcile the agent's own stop cut short: not a restart
        self._events.record(
            EventKind.RESTART_DETECTED,
            "first start of the agent on this host" if event.restart == RestartKind.FIRST_RUN
            else "agent restarted (host and Docker daemon kept running)",
            data={"restart": event.restart.value},
        )
        config = self._recovery.config
        for name in self._catalog.deployments:
            health = self._health.evaluate(name)
            if health is not None and health.verdict in ILL:
                self._recovery.schedule(name, "agent-start", config.settle_seconds)

    async def _on_intent(self, decision: IntentDecided) -> None:
        """Keep intent decisions made on thin evidence for the next summary to name."""
        if decision.uncertain:
            self._uncertain[decision.deployment] = decision
        else:
            self._uncertain.pop(decision.deployment, None)

    def _take_uncertain(self) -> list[dict[str, str]]:
        taken = sorted(self._uncertain.values(), key=lambda d: d.deployment)
        self._uncertain.clear()
        return [{
            "deployment": d.deployment,
            "decided": f"kept {d.state.value}" if d.intent else f"wanted {d.state.value}",
            "fix": f"stackmedic {'start' if d.state.value == 'stopped' else 'stop'} "
                   f"{d.deployment}",
        } for d in taken]

    async def run(self, kind: RestartKind) -> RestartSummary:
        """Settle, recreate shared networks, recover each deployment, publish the summary."""
        config = self._recovery.config
        started = time.monotonic()
        summary = RestartSummary(kind)
        summary.cut_short = self._take_pending(kind)
        await self._bus.publish(RestartReconcileStarted(kind.value, time.time()))
        running: list[str] = []
        ok = False
        try:
            # A give-up was about the deployment as it was: each gets one fresh attempt.
            summary.rearmed = await self._recovery.rearm_after_restart(
                self._catalog.deployments, f"{kind.value} restart")
            # No fixed settle: Docker restarts what its policies bring back before its API
            # answers; each deployment waits only while Docker still has some of its
            # containers to bring back (at most settle_seconds), the rest is acted on now.
            docker_deadline = time.monotonic() + config.settle_seconds
            running, stopped = self._split()
            summary.left_stopped = stopped
            summary.not_found = self._not_found()
            summary.networks_created = await self._create_networks(running)
            recreated = set(summary.networks_created)
            limit = asyncio.Semaphore(boot_parallelism(config))
            order = self._readiness_order(running)
            acted = {name: asyncio.Event() for name in order
                     if self._slowest(name) >= HEAD_START_SECONDS}

            async def one(name: str) -> None:
                try:
                    if name in acted and not self._docker_ready(name):
                        acted[name].set()  # Docker brings it back, or it is judged: no lead
                    await self._docker_done(name, docker_deadline)
                    if name not in acted:
                        await _after_head_start(acted.values())
                    await self._reconcile_one(name, kind, summary, recreated, limit,
                                              acted.get(name))
                    # behaviour: reboot-policy-restarts-stopped-service
                    await self._keep_stopped(name, summary)
                except Exception:
                    log.exception("reconciling a deployment failed", deployment=name)
                finally:
                    if name in acted:
                        acted[name].set()

            async def keep(name: str) -> None:
                try:
                    await self._docker_done(name, docker_deadline)
                    await self._keep_stopped(name, summary)
                except Exception:
                    log.exception("stopping a deployment again failed", deployment=name)

            # Slow starters first: they bound how soon everything is up.
            await asyncio.gather(*(one(name) for name in order),
                                 *(keep(name) for name in stopped))
            summary.sort()
            ok = True
        finally:
            await self._bus.publish(RestartReconcileFinished(kind.value, time.time(), ok))
        summary.account(running)
        summary.uncertain = self._take_uncertain()
        self._set_pending(None)
        summary.seconds = time.monotonic() - started
        self.last = summary
        message = summary.message()
        severity = Severity.WARNING if summary.still_down or summary.unaccounted \
            else Severity.INFO
        self._events.record(EventKind.RESTART_SUMMARY, message, severity=severity,
                            data=summary.as_dict())
        await self._bus.publish(RecoveryEvent(
            EventKind.RESTART_SUMMARY, None, message, severity, time.time(), summary.as_dict()
        ))
        for item in summary.still_down:
            self._recovery.schedule(item["deployment"], "retry", config.backoff_initial_seconds)
        return summary

    def _take_pending(self, kind: RestartKind) -> list[dict[str, object]]:
        """The earlier restart whose reconcile never ended, if any; mark this one pending."""
        earlier: list[dict[str, object]] = []
        raw = self._facts.get(PENDING_FACT) if self._facts is not None else None
        if raw:
            try:
                item = json.loads(raw)
                at = float(item["at"])
                earlier.append({"restart": str(item["restart"]), "at": at,
                                "at_text": datetime.fromtimestamp(at, UTC).strftime(
                                    "%H:%M:%S UTC")})
            except (ValueError, KeyError, TypeError):
                log.warning("unreadable pending reconcile marker", marker=raw)
        self._set_pending({"restart": kind.value, "at": time.time()})
        return earlier

    def _set_pending(self, item: dict[str, object] | None) -> None:
        if self._facts is not None:
            self._facts.set(PENDING_FACT, json.dumps(item) if item else "")

    def _split(self) -> tuple[list[str], list[str]]:
        """Deployments wanted running (and those with an invalid compose file, which
        cannot run whatever was wanted), and those left stopped on purpose."""
        running: list[str] = []
        stopped: list[str] = []
        for name, deployment in sorted(self._catalog.deployments.items()):
            record = self._desired.get(name)
            if record is None:
                if not deployment.valid:
                    running.append(name)
                continue
            (running if record.state == DesiredState.RUNNING else stopped).append(name)
        return running, stopped

    def _not_found(self) -> list[dict[str, str]]:
        """Deployments with a desired state whose folder vanished since they were last
        seen (told once: the event log then records them as gone)."""
        gone = []
        for name, record in sorted(self._desired.all().items()):
            if name in self._catalog.deployments:
                continue
            told = self._events.query(EventQuery(deployment=name, kind=EventKind.DEPLOYMENT_GONE,
                                                 since=record.changed_at, limit=1))
            if told:
                continue
            self._events.record(EventKind.DEPLOYMENT_GONE,
                                f"deployment no longer found: {NOT_FOUND}", deployment=name)
            gone.append({"deployment": name, "why": NOT_FOUND})
        return gone

    async def _create_networks(self, names: list[str]) -> list[str]:
        wanted = sorted({net for name in names
                         for net in self._catalog.deployments[name].external_networks})
        created = []
        for network in wanted:
            try:
                await self._engine.docker.networks.get(network)
                continue
            except aiodocker.DockerError as exc:
                if exc.status != 404:
                    continue
            try:
                await self._engine.docker.networks.create({"Name": network,
                                                           "CheckDuplicate": True})
                created.append(network)
                self._events.record(EventKind.RECOVERY_ACTION,
                                    f"created missing network {network}",
                                    data={"network": network})
            except aiodocker.DockerError as exc:
                log.warning("network create failed", network=network, error=str(exc))
        return created

    async def _reconcile_one(self, name: str, kind: RestartKind, summary: RestartSummary,
                             recreated: set[str], limit: asyncio.Semaphore,
                             acted: asyncio.Event | None = None) -> None:
        verdict = await self._settled_verdict(name)
        result: RunResult | None = None
        if verdict in ILL:
            result = await self._recovery.recover(name, f"{kind.value}-restart",
                                                  recreated_networks=recreated,
                                                  act_slots=limit, acted=acted)
        health = self._health.evaluate(name)
        deployment = self._catalog.get(name)
        if health is None or deployment is None:
            summary.still_down.append({"deployment": name, "why": "no longer known"})
            return
        retry = self._recovery.config.backoff_initial_seconds \
            if self._recovery.config.enabled else None
        place(summary, name, health, self._containers(deployment.project), result, retry)

    def _slowest(self, name: str) -> float:
        """How long the deployment's slowest service may take to be ready."""
        deployment = self._catalog.get(name)
        services = deployment.services.values() if deployment is not None else ()
        return max((s.ready_within for s in services), default=0.0)

    def _readiness_order(self, names: list[str]) -> list[str]:
        """Deployments whose services take longest to be ready first, then by name."""
        return sorted(names, key=lambda name: (-self._slowest(name), name))

    async def _docker_done(self, name: str, deadline: float) -> None:
        """Wait while Docker's restart policy still brings back some of ``name``'s
        containers, its containers are not read yet, or a stop of it is being judged."""
        while time.monotonic() < deadline:
            if self._docker_ready(name):
                return
            await asyncio.sleep(WAIT_POLL_SECONDS)

    def _docker_ready(self, name: str) -> bool:
        """Whether ``name``'s containers are read, Docker brings none back and no stop of
        it is being judged (see ``_docker_done``)."""
        deployment = self._catalog.get(name)
        if deployment is None:
            return True
        health = self._health.evaluate(name)
        read = health is not None and health.verdict is not Verdict.UNKNOWN
        return read and not self._stop_pending(name) and \
            not awaiting_docker(self._containers(deployment.project))

    async def _keep_stopped(self, name: str, summary: RestartSummary) -> None:
        """Stop again what Docker's policy started at boot though it is wanted stopped."""
        deployment = self._catalog.get(name)
        if deployment is None or self._actions is None:
            return
        started = sorted({c.service for c in self._containers(deployment.project)
                          if c.running and not c.oneoff
                          and self._desired.effective(name, c.service) == DesiredState.STOPPED})
        if not started:
            return
        await self._actions.keep_stopped(name, started)
        summary.stopped_again.append({"deployment": name, "services": ", ".join(started)})
        self._events.record(
            EventKind.RECOVERY_ACTION,
            f"stopped {', '.join(started)} again: Docker's restart policy started "
            "what is wanted stopped", deployment=name, data={"services": started})

    async def _settled_verdict(self, name: str) -> Verdict:
        """The verdict once a deployment is no longer ``starting`` (bounded wait)."""
        deadline = time.monotonic() + self._recovery.config.verify_timeout_seconds
        while True:
            health = self._health.evaluate(name)
            verdict = health.verdict if health else Verdict.UNKNOWN
            if verdict is not Verdict.STARTING or time.monotonic() > deadline:
                return verdict
            await asyncio.sleep(WAIT_POLL_SECONDS)


async def _after_head_start(acted: Iterable[asyncio.Event]) -> None:
    """Wait until the slow starters have acted, for at most ``HEAD_START_CAP_SECONDS``."""
    waits = [asyncio.ensure_future(event.wait()) for event in acted if not event.is_set()]
    if not waits:
        return
    try:
        await asyncio.wait(waits, timeout=HEAD_START_CAP_SECONDS)
    finally:
        for wait in waits:
            wait.cancel()
