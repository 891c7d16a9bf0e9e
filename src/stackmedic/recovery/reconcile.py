"""After a host or daemon restart: bring every deployment back and report in one summary.

The reconciler hears from the engine session what each connection found
(``EngineConnected``): after a host or daemon restart it reconciles every deployment; on
the agent's first connection without one, the ill deployments get a recovery run. It
tells the rest of the agent ``RestartReconcileStarted`` and ``RestartReconcileFinished``
around its runs, then the summary (``recovery.summary``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiodocker
import structlog

from stackmedic.bus import Bus
from stackmedic.deployments.catalog import Catalog
from stackmedic.engine.client import EngineClient
from stackmedic.health.engine import HealthEngine
from stackmedic.health.model import Verdict
from stackmedic.intent.events import IntentDecided
from stackmedic.observe.boot import RestartKind
from stackmedic.observe.containers import ContainerState
from stackmedic.observe.events import EngineConnected
from stackmedic.recovery.events import (
    RecoveryEvent,
    RestartReconcileFinished,
    RestartReconcileStarted,
)
from stackmedic.recovery.outcome import RunResult
from stackmedic.recovery.service import ILL, RecoveryService
from stackmedic.recovery.summary import RestartSummary, place
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.supervise.supervisor import Supervisor
from stackmedic.types import DesiredState, EventKind, Severity

__all__ = ["RestartReconciler", "RestartSummary", "place"]

log = structlog.get_logger(__name__)

WAIT_POLL_SECONDS = 0.25
TASK = "restart-reconcile"


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
            if self._recovery.config.enabled and not self._supervisor.running(TASK):
                self._supervisor.spawn(TASK, lambda: self.run(kind), restart=False)
            return
        if not event.first:
            return
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
        await self._bus.publish(RestartReconcileStarted(kind.value, time.time()))
        running: list[str] = []
        ok = False
        try:
            await asyncio.sleep(config.settle_seconds)
            running, stopped = self._split()
            summary.left_stopped = stopped
            summary.networks_created = await self._create_networks(running)
            recreated = set(summary.networks_created)
            limit = asyncio.Semaphore(config.boot_parallelism)

            async def one(name: str) -> None:
                try:
                    await self._reconcile_one(name, kind, summary, recreated, limit)
                except Exception:
                    log.exception("reconciling a deployment failed", deployment=name)

            await asyncio.gather(*(one(name) for name in running))
            summary.sort()
            ok = True
        finally:
            await self._bus.publish(RestartReconcileFinished(kind.value, time.time(), ok))
        summary.account(running)
        summary.uncertain = self._take_uncertain()
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

    def _split(self) -> tuple[list[str], list[str]]:
        running: list[str] = []
        stopped: list[str] = []
        for name in sorted(self._catalog.deployments):
            record = self._desired.get(name)
            if record is None:
                continue
            (running if record.state == DesiredState.RUNNING else stopped).append(name)
        return running, stopped

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
                             recreated: set[str], limit: asyncio.Semaphore) -> None:
        verdict = await self._settled_verdict(name)
        result: RunResult | None = None
        if verdict in ILL:
            result = await self._recovery.recover(name, f"{kind.value}-restart",
                                                  recreated_networks=recreated,
                                                  act_slots=limit)
        health = self._health.evaluate(name)
        deployment = self._catalog.get(name)
        if health is None or deployment is None:
            summary.still_down.append({"deployment": name, "why": "no longer known"})
            return
        place(summary, name, health, self._containers(deployment.project), result)

    async def _settled_verdict(self, name: str) -> Verdict:
        """The verdict once a deployment is no longer ``starting`` (bounded wait)."""
        deadline = time.monotonic() + self._recovery.config.verify_timeout_seconds
        while True:
            health = self._health.evaluate(name)
            verdict = health.verdict if health else Verdict.UNKNOWN
            if verdict is not Verdict.STARTING or time.monotonic() > deadline:
                return verdict
            await asyncio.sleep(WAIT_POLL_SECONDS)
