"""When each probe runs: due by its interval, only while its deployment is meant to serve
(never while stopped, stopping, starting or deploying), a grace after its container
started, at most ``probes.concurrency`` at once; each result is counted and told."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog

from stackmedic.deployments.catalog import Catalog
from stackmedic.health.engine import HealthEngine
from stackmedic.health.model import ProbeStanding, ServiceStatus, Verdict
from stackmedic.observe.containers import ContainerState
from stackmedic.observe.state import ObservedState
from stackmedic.probes.book import ProbeBook, ProbeRecord, run_of
from stackmedic.probes.catalog import ProbeCatalog
from stackmedic.probes.config import ProbesConfig
from stackmedic.probes.netns import namespace_path
from stackmedic.probes.result import ProbeResult
from stackmedic.probes.run import ProbeRunner
from stackmedic.probes.spec import ProbeLabelError, ProbeSpec
from stackmedic.types import SYSTEM_CLOCK, Clock

log = structlog.get_logger(__name__)

PROBED_VERDICTS = (Verdict.HEALTHY, Verdict.DEGRADED, Verdict.DOWN, Verdict.PAUSED)
Inspect = Callable[[str], Awaitable[dict[str, Any] | None]]
Listener = Callable[[ProbeRecord], Awaitable[None]]


class ProbeScheduler:
    """Runs the declared probes and keeps their records in the book."""

    def __init__(self, config: ProbesConfig, catalog: Catalog, observed: ObservedState,
                 health: HealthEngine, runner: ProbeRunner, inspect: Inspect, *,
                 on_result: Listener | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self._config = config
        self._catalog = catalog
        self._observed = observed
        self._health = health
        self._runner = runner
        self._inspect = inspect
        self.on_result = on_result
        self._clock = clock
        self.specs = ProbeCatalog(catalog, config)
        self.book = ProbeBook(config.grace_seconds)
        self.errors: list[ProbeLabelError] = []
        self._due: dict[tuple[str, str, str], float] = {}  # monotonic
        self._inflight: dict[tuple[str, str, str], asyncio.Task[None]] = {}
        self._limit = asyncio.Semaphore(config.concurrency)
        self._pids: dict[str, int] = {}  # by container run
        self.runs = 0

    def standing(self, deployment: str, containers: Sequence[ContainerState]
                 ) -> Mapping[str, ProbeStanding]:
        """What the probes say of each service (the health engine's hook)."""
        return self.book.standing(deployment, containers, self._clock.wall())

    async def tick(self) -> None:
        """Start every probe that is due and may run now."""
        specs, errors = self.specs.refresh()
        if [e.describe() for e in errors] != [e.describe() for e in self.errors]:
            for error in errors:
                log.warning("probe not used", problem=error.describe())
        self.errors = errors
        self.book.sync(specs)
        known = {spec.key for spec in specs}
        for key in set(self._due) - known:
            del self._due[key]
        now = self._clock.monotonic()
        for spec in specs:
            if spec.key in self._inflight or self._due.get(spec.key, 0.0) > now:
                continue
            record = self.book.get(spec.key)
            assert record is not None
            container, why_not = self._eligible(spec)
            record.skipped = why_not
            if container is None:
                self._due[spec.key] = now + min(spec.interval, 1.0)
                continue
            self._due[spec.key] = now + spec.interval
            self._inflight[spec.key] = asyncio.create_task(self._probe(record, container))

    def _eligible(self, spec: ProbeSpec) -> tuple[ContainerState | None, str | None]:
        """The container to probe (its namespace, its run), or why not to probe now."""
        # behaviour: probe-stopped
        health = self._health.evaluate(spec.deployment, probes=False)
        if health is None:
            return None, "no such deployment"
        if health.verdict not in PROBED_VERDICTS:
            return None, f"not probed while {health.verdict.value}"
        service = health.service(spec.service or "")
        if service is None or service.status not in (ServiceStatus.RUNNING,
                                                      ServiceStatus.UNHEALTHY):
            status = service.status.value if service else "missing"
            return None, f"not probed while {spec.service} is {status}"
        deployment = self._catalog.get(spec.deployment)
        project = deployment.project if deployment else spec.deployment
        running = [c for c in self._observed.for_project(project)
                   if c.service == spec.service and c.running]
        if not running:
            return None, f"not probed while {spec.service} has no running container"
        container = min(running, key=lambda c: c.number)
        if self._clock.wall() - (container.started_at or 0.0) < self._config.grace_seconds:
            return None, f"not probed in the first {self._config.grace_seconds:g}s after a start"
        return container, None

    async def _namespace(self, container: ContainerState) -> str | None:
        run = run_of(container)
        pid = self._pids.get(run)
        if pid is None:
            data = await self._inspect(container.id)
            pid = int(((data or {}).get("State") or {}).get("Pid") or 0)
            if pid <= 0:
                return None
            self._pids = {r: p for r, p in self._pids.items() if not r.startswith(container.id)}
            self._pids[run] = pid
        return namespace_path(pid)

    async def _probe(self, record: ProbeRecord, container: ContainerState) -> None:
        spec = record.spec
        try:
            async with self._limit:
                namespace = await self._namespace(container) if spec.inside else None
                if spec.inside and namespace is None:
                    return  # it stopped meanwhile
                result = await self._runner.run(spec, namespace, container.name)
            self.runs += 1
            await self.record(record, container, result)
        except Exception:
            log.exception("probe failed to run", deployment=spec.deployment, target=spec.target)
        finally:
            self._inflight.pop(spec.key, None)

    async def record(self, record: ProbeRecord, container: ContainerState,
                     result: ProbeResult) -> None:
        """Count one result and recompute the deployment's verdict."""
        record.record(run_of(container), container.started_at, result)
        if self.on_result is not None:
            await self.on_result(record)
        await self._health.refresh(record.spec.deployment)

    def detail(self, deployment: str) -> list[dict[str, Any]]:
        """Each probe of one deployment: what it asks, its last result and its standing."""
        now = self._clock.wall()
        answer = []
        for record in self.book.records(deployment):
            spec, last = record.spec, record.last
            answer.append({
                "service": spec.service, "kind": spec.kind.value, "target": spec.target,
                "inside": spec.inside, "interval_seconds": spec.interval,
                "timeout_seconds": spec.timeout, "failures_needed": spec.failures,
                "failures": record.failures, "failing": record.failing,
                "skipped": record.skipped, "last": last.as_dict() if last else None,
                "latency_ms": round(last.duration * 1000, 1) if last else None,
                "cert_days_left": round(d, 2) if last and (
                    d := last.cert_days_left(now)) is not None else None,
                "history": [[r.at, round(r.duration * 1000, 1), r.ok]
                            for r in list(record.history)[-60:]],
            })
        return answer

    def invalid(self, deployment: str | None = None) -> list[dict[str, str | None]]:
        """The probe labels and entries that could not be used."""
        return [e.as_dict() for e in self.errors
                if deployment is None or e.deployment == deployment]

    async def close(self) -> None:
        """Cancel the probes in flight."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
