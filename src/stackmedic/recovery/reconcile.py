"""After a host or daemon restart: bring every deployment back and report in one summary."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiodocker
import structlog

from stackmedic.bus import Bus
from stackmedic.deployments.catalog import Catalog
from stackmedic.engine.client import EngineClient
from stackmedic.health.engine import HealthEngine
from stackmedic.health.model import Verdict
from stackmedic.recovery.boot import RestartKind
from stackmedic.recovery.events import RecoveryEvent
from stackmedic.recovery.service import ILL, RecoveryService
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.types import DesiredState

log = structlog.get_logger(__name__)

WAIT_POLL_SECONDS = 0.25


@dataclass
class RestartSummary:
    """What a restart did to each deployment and what stackmedic did about it."""

    kind: RestartKind
    came_back: list[str] = field(default_factory=list)
    brought_back: list[dict[str, str]] = field(default_factory=list)
    still_down: list[dict[str, str]] = field(default_factory=list)
    left_stopped: list[str] = field(default_factory=list)
    networks_created: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def sort(self) -> None:
        """Order every list by deployment name (runs finish in any order)."""
        self.came_back.sort()
        self.brought_back.sort(key=lambda item: item["deployment"])
        self.still_down.sort(key=lambda item: item["deployment"])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "restart": self.kind.value,
            "came_back_by_itself": self.came_back,
            "brought_back": self.brought_back,
            "still_down": self.still_down,
            "left_stopped": self.left_stopped,
            "networks_created": self.networks_created,
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
            f"- left stopped on purpose: {names(self.left_stopped)}",
        ]
        if self.networks_created:
            lines.append(f"- networks recreated: {names(self.networks_created)}")
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
    ) -> None:
        self._recovery = recovery
        self._catalog = catalog
        self._desired = desired
        self._health = health
        self._engine = engine
        self._events = events
        self._bus = bus
        self.last: RestartSummary | None = None

    async def run(self, kind: RestartKind) -> RestartSummary:
        """Settle, recreate shared networks, recover each deployment, publish the summary."""
        config = self._recovery.config
        started = time.monotonic()
        summary = RestartSummary(kind)
        self._recovery.reconciling = True
        try:
            await asyncio.sleep(config.settle_seconds)
            running, stopped = self._split()
            summary.left_stopped = stopped
            summary.networks_created = await self._create_networks(running)
            recreated = set(summary.networks_created)
            limit = asyncio.Semaphore(config.boot_parallelism)

            async def one(name: str) -> None:
                await self._reconcile_one(name, kind, summary, recreated, limit)

            await asyncio.gather(*(one(name) for name in running))
            summary.sort()
        finally:
            self._recovery.reconciling = False
        summary.seconds = time.monotonic() - started
        self.last = summary
        message = summary.message()
        severity = "warning" if summary.still_down else "info"
        self._events.record("restart-summary", message, severity=severity,
                            data=summary.as_dict())
        await self._bus.publish(RecoveryEvent(
            "restart-summary", None, message, severity, time.time(), summary.as_dict()
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
                self._events.record("recovery-action", f"created missing network {network}",
                                    data={"network": network})
            except aiodocker.DockerError as exc:
                log.warning("network create failed", network=network, error=str(exc))
        return created

    async def _reconcile_one(self, name: str, kind: RestartKind, summary: RestartSummary,
                             recreated: set[str], limit: asyncio.Semaphore) -> None:
        verdict = await self._settled_verdict(name)
        if verdict is Verdict.HEALTHY:
            summary.came_back.append(name)
            return
        if verdict not in ILL:
            health = self._health.evaluate(name)
            summary.still_down.append({"deployment": name, "why": health.reason if health
                                       else verdict.value})
            return
        result = await self._recovery.recover(name, f"{kind.value}-restart",
                                              recreated_networks=recreated, act_slots=limit)
        if result.outcome == "recovered":
            how = ", ".join(o.suggestion.describe() for o in result.actions) or "restarted"
            summary.brought_back.append({"deployment": name, "how": how})
        elif result.outcome == "nothing-to-do":
            summary.came_back.append(name)
        else:
            summary.still_down.append({"deployment": name,
                                       "why": result.message or result.outcome})

    async def _settled_verdict(self, name: str) -> Verdict:
        """The verdict once a deployment is no longer ``starting`` (bounded wait)."""
        deadline = time.monotonic() + self._recovery.config.verify_timeout_seconds
        while True:
            health = self._health.evaluate(name)
            verdict = health.verdict if health else Verdict.UNKNOWN
            if verdict is not Verdict.STARTING or time.monotonic() > deadline:
                return verdict
            await asyncio.sleep(WAIT_POLL_SECONDS)
