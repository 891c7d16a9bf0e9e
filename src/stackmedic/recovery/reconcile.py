"""After a host or daemon restart: bring every deployment back and report in one summary."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiodocker
import structlog

from stackmedic.bus import Bus
from stackmedic.deployments.catalog import Catalog
from stackmedic.engine.client import EngineClient
from stackmedic.health.engine import HealthEngine
from stackmedic.health.model import DeploymentHealth, ServiceStatus, Verdict
from stackmedic.intent.events import IntentDecided
from stackmedic.observe.containers import ContainerState
from stackmedic.recovery.boot import RestartKind
from stackmedic.recovery.events import RecoveryEvent, RestartReconcileStarted
from stackmedic.recovery.outcome import RunResult
from stackmedic.recovery.service import ILL, RecoveryService
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.types import DesiredState, EventKind, RunOutcome, Severity

log = structlog.get_logger(__name__)

WAIT_POLL_SECONDS = 0.25
START_SLACK = 1.0  # engine start times against the agent's clock


@dataclass
class RestartSummary:
    """What a restart did to each deployment, stating only what was verified.

    ``came_back``: running (healthy where it has a healthcheck) before stackmedic acted on
    it, per the engine's start times. ``brought_back``: running after stackmedic's action.
    ``still_down``: everything else, with the reason. ``completed``: one-shot jobs that ran
    to completion. A deployment wanted running in none of the first three is a bug, and
    ``unaccounted`` says so.
    """

    kind: RestartKind
    came_back: list[str] = field(default_factory=list)
    brought_back: list[dict[str, Any]] = field(default_factory=list)
    still_down: list[dict[str, str]] = field(default_factory=list)
    completed: list[dict[str, str]] = field(default_factory=list)
    left_stopped: list[str] = field(default_factory=list)
    networks_created: list[str] = field(default_factory=list)
    unaccounted: list[str] = field(default_factory=list)
    uncertain: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def sort(self) -> None:
        """Order every list by deployment name (runs finish in any order)."""
        self.came_back.sort()
        self.brought_back.sort(key=lambda item: item["deployment"])
        self.still_down.sort(key=lambda item: item["deployment"])
        self.completed.sort(key=lambda item: item["deployment"])

    def account(self, wanted: list[str]) -> None:
        """Name every deployment wanted running that landed in no bucket (a bug)."""
        placed = {*self.came_back, *(b["deployment"] for b in self.brought_back),
                  *(d["deployment"] for d in self.still_down)}
        only_jobs = {c["deployment"] for c in self.completed if c.get("only_jobs")}
        self.unaccounted = sorted(set(wanted) - placed - only_jobs)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "restart": self.kind.value,
            "came_back_by_itself": self.came_back,
            "brought_back": self.brought_back,
            "still_down": self.still_down,
            "jobs_completed": self.completed,
            "left_stopped": self.left_stopped,
            "networks_created": self.networks_created,
            "unaccounted": self.unaccounted,
            "uncertain_intent": self.uncertain,
            "seconds": round(self.seconds, 1),
        }

    def message(self) -> str:
        """A short report a person can read, one line per group."""
        def names(items: list[str]) -> str:
            return ", ".join(items) if items else "none"

        lines = [
            f"recovered after {self.kind.value} restart ({self.seconds:.0f}s):",
            f"- came back by itself: {names(self.came_back)}",
            "- brought back by stackmedic: " + names(
                [f"{b['deployment']} ({b['how']})" for b in self.brought_back]),
            "- still down: " + names(
                [f"{d['deployment']} ({d['why']})" for d in self.still_down]),
        ]
        if self.completed:
            lines.append("- jobs completed: " + names(
                [f"{c['deployment']} ({c['services']})" for c in self.completed]))
        lines.append(f"- left stopped on purpose: {names(self.left_stopped)}")
        if self.networks_created:
            lines.append(f"- networks recreated: {names(self.networks_created)}")
        if self.uncertain:
            lines.append("- stops judged on thin evidence, check them: " + names(
                [f"{u['deployment']} ({u['decided']}; if wrong: {u['fix']})"
                 for u in self.uncertain]))
        if self.unaccounted:
            lines.append("- not accounted for (a bug in stackmedic, please report): "
                         + names(self.unaccounted))
        return "\n".join(lines)


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
    ) -> None:
        self._recovery = recovery
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
        self._recovery.reconciling = True
        await self._bus.publish(RestartReconcileStarted(kind.value, time.time()))
        running: list[str] = []
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
        finally:
            self._recovery.reconciling = False
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


def place(summary: RestartSummary, name: str, health: DeploymentHealth,
          containers: list[ContainerState], result: RunResult | None) -> None:
    """Put one deployment in the bucket its verified state earns (pure but for ``summary``)."""
    completed = [s.name for s in health.services if s.status is ServiceStatus.COMPLETED]
    wanted = [s for s in health.services
              if s.desired != DesiredState.STOPPED.value and s.status is not ServiceStatus.COMPLETED
              and s.status is not ServiceStatus.STOPPED]
    if completed:
        summary.completed.append({"deployment": name, "services": ", ".join(completed),
                                  "only_jobs": "yes" if not wanted else ""})
    if not wanted:
        return
    up = health.verdict is Verdict.HEALTHY and all(
        s.status is ServiceStatus.RUNNING for s in wanted)
    if not up:
        why = (result.message if result is not None and result.message else "") or health.reason
        if result is not None and result.outcome == RunOutcome.GAVE_UP:
            why = f"gave up: {why}"
        summary.still_down.append({"deployment": name, "why": why.splitlines()[0]})
        return
    acted_at = result.acted_at if result is not None else None
    done = [o for o in (result.actions if result is not None else []) if o.ok]
    acted = {o.suggestion.service for o in done}
    started_by_us = acted_at is not None and any(
        c.service in acted and c.running and (c.started_at or 0.0) >= acted_at - START_SLACK
        for c in containers)
    if not started_by_us:
        summary.came_back.append(name)
        return
    how = ", ".join(o.suggestion.describe() for o in done)
    summary.brought_back.append({"deployment": name, "how": how, "acted_at": acted_at})
