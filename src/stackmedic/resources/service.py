"""ResourceMonitor: samples on a schedule, keeps history, runs spike rules, answers the API."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import aiodocker
import structlog
from prometheus_client.core import Metric

from stackmedic.resources.alert_store import AlertStore
from stackmedic.resources.cgroups import CgroupLayout
from stackmedic.resources.config import ResourcesConfig
from stackmedic.resources.detect import build_sampler
from stackmedic.resources.history import Resolution, ResourceHistory
from stackmedic.resources.host import HostSampler
from stackmedic.resources.models import (
    AlertState,
    ContainerRef,
    ContainerSample,
    HostSample,
    Snapshot,
)
from stackmedic.resources.oom import oom_context, oom_killed
from stackmedic.resources.periodic import Periodic
from stackmedic.resources.prometheus import metric_families
from stackmedic.resources.reporting import AlertCallback, OomCallback, ResourceReporter
from stackmedic.resources.rule_recall import recall
from stackmedic.resources.rules import RuleEngine
from stackmedic.resources.sampler import ContainerSampler, HostShape
from stackmedic.resources.stats_api import StatsApiReader
from stackmedic.resources.targets import TargetsProvider, resolve_targets
from stackmedic.store.db import Database

log = structlog.get_logger(__name__)

OomCount = Callable[[ContainerRef], int]
PRUNE_EVERY_SECONDS = 600.0
DEFAULT_SERIES_SECONDS = 3600.0
RECALL_MARGIN_INTERVALS = 3  # samples before a window's start: they show it is covered


class ResourceMonitor:
    """Samples host and containers every interval; owns history and spike alerts."""

    def __init__(
        self,
        config: ResourcesConfig,
        db: Database,
        docker: aiodocker.Docker | None,
        *,
        on_alert: AlertCallback | None = None,
        on_oom_kill: OomCallback | None = None,
        oom_kills: OomCount | None = None,
        clock: Callable[[], float] = time.time,
        targets: TargetsProvider | None = None,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._config = config
        self._db = db
        self._docker = docker
        # The one count of OOM kills per service (across recreation); else the cgroup's.
        self._oom_kills = oom_kills
        self._clock = clock
        self._provider = targets
        self._monotonic_ns = monotonic_ns
        self._targets: list[ContainerRef] = []
        keep = config.ring_size * config.sample_interval_seconds
        self._history = ResourceHistory(
            db,
            ring_size=config.ring_size,
            raw_retention_seconds=config.raw_retention_hours * 3600,
            minute_retention_seconds=config.minute_retention_days * 86400,
            ring_keep_seconds=keep,
        )
        self._report = ResourceReporter(on_alert, on_oom_kill, self._history.memory_trend)
        self._alert_store = AlertStore(db)
        self._engine = RuleEngine(config.rules)
        self._host = HostSampler(config.disk_paths)
        if db.path is not None:
            self._host.add_disk_path("data", db.path.parent)
        self._stats_api = (
            StatsApiReader(docker, concurrency=config.stats_api_concurrency) if docker else None
        )
        self._sampler: ContainerSampler | None = None
        self.layout: CgroupLayout | None = None
        self._latest: Snapshot | None = None
        self._sample_lock = asyncio.Lock()
        self._prepare_lock = asyncio.Lock()
        self._sampled = asyncio.Condition()
        self._schedule = Periodic(
            self.sample_once, config.sample_interval_seconds, "stackmedic-resources"
        )
        self._last_prune: float | None = None
        self._samples_taken = 0
        self._sample_cpu_seconds = 0.0

    def set_targets(self, refs: Sequence[ContainerRef]) -> None:
        """Replace the containers to sample (ignored while a provider is set)."""
        self._targets = list(refs)

    async def start(self) -> None:
        """Detect the cgroup layout, restore firing alerts and start sampling (if enabled)."""
        await self._prepare()
        if self._config.enabled:
            self._schedule.start()

    async def close(self) -> None:
        """Stop sampling (letting a running sample finish), flush history, close descriptors."""
        await self._schedule.stop(timeout=max(5.0, self._config.sample_interval_seconds))
        async with self._sample_lock:
            self._history.flush()
            if self._sampler is not None:
                self._sampler.close()
                self._sampler = None

    async def sample_once(self) -> Snapshot:
        """Take one sample of host and containers, record it and evaluate the rules."""
        sampler = await self._prepare()
        async with self._sample_lock:
            started, cpu_started = time.perf_counter(), time.process_time()
            ts = self._clock()
            targets = await self._current_targets()
            host = self._sample_host(ts)
            shape = HostShape(
                host.cpu_count if host else self._host.cpu_count,
                host.memory_total_bytes if host else self._host.memory_total_bytes,
            )
            containers = await sampler.sample(targets, ts, shape)
            snapshot = Snapshot(ts, host, tuple(containers), time.perf_counter() - started,
                                mono=self._monotonic_ns() / 1e9)
            self._history.record(snapshot)
            events = self._engine.evaluate(snapshot)
            for event in events:
                self._alert_store.record(event)
            killed = oom_killed(self._latest, snapshot)
            self._latest = snapshot
            self._samples_taken += 1
            self._sample_cpu_seconds += time.process_time() - cpu_started
            if self._last_prune is None or ts - self._last_prune >= PRUNE_EVERY_SECONDS:
                await self._prune(ts)
        async with self._sampled:
            self._sampled.notify_all()
        for event in events:
            await self._report.alert(event)
        for sample in killed:
            await self._report.oom_kill(sample)
        return snapshot

    async def next_snapshot(self, timeout: float | None = None) -> Snapshot:
        """Wait for the next sample taken by the running monitor and return it."""
        async with self._sampled:
            before = self._latest
            await asyncio.wait_for(
                self._sampled.wait_for(lambda: self._latest is not before), timeout
            )
            assert self._latest is not None
            return self._latest

    @property
    def sampler(self) -> ContainerSampler | None:
        """The container sampler, once the layout is detected (read by the host report)."""
        return self._sampler

    def latest(self) -> Snapshot | None:
        """The most recent snapshot (what the Prometheus collector reads)."""
        return self._latest

    def metric_families(self) -> list[Metric]:
        """The current figures as Prometheus metric families."""
        return metric_families(self._latest, self._engine.active(), self._oom_kills)

    def current(self) -> dict[str, Any]:
        """Host and all containers now, for `GET /api/resources`."""
        snap = self._latest
        return {
            "ts": snap.ts if snap else None,
            "interval_seconds": self._config.sample_interval_seconds,
            "cgroup_version": self.layout.version if self.layout else None,
            "host": snap.host.to_dict() if snap and snap.host else None,
            "containers": [self._with_oom_kills(s) for s in (snap.containers if snap else ())],
        }

    def _with_oom_kills(self, sample: ContainerSample) -> dict[str, Any]:
        row = sample.to_dict()
        if self._oom_kills is not None:
            row["oom_kills"] = self._oom_kills(sample.ref)
        return row

    def series(
        self,
        deployment: str,
        since: float | datetime | None = None,
        *,
        until: float | datetime | None = None,
        resolution: Resolution = "auto",
    ) -> dict[str, Any]:
        """A deployment's container series since a time (default: the last hour)."""
        end = _timestamp(until) if until is not None else self._clock()
        start = _timestamp(since) if since is not None else end - DEFAULT_SERIES_SECONDS
        return self._history.series(deployment, start, end, resolution)

    def alerts(self, state: AlertState | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        """Spike alerts: pending/firing now, recent resolved ones, or all of these."""
        active = [a.to_dict() for a in self._engine.active() if state in (None, a.state)]
        if state in ("pending", "firing"):
            return active
        resolved = self._alert_store.events(state="resolved", limit=limit)
        return resolved if state == "resolved" else active + resolved

    def memory_trend(
        self, container_id: str, seconds: float | None = None
    ) -> list[tuple[float, int]]:
        """Recent (ts, memory bytes) of a container, e.g. before it was OOM-killed."""
        since = None if seconds is None else self._clock() - seconds
        return self._history.memory_trend(container_id, since)

    def oom_context(self, container_id: str) -> dict[str, Any]:
        """What memory looked like before an OOM kill: limit, last and peak use, the trend."""
        last = self._latest.container(container_id) if self._latest else None
        return oom_context(
            container_id,
            self._history.ring(container_id) or None,
            self._history.memory_trend(container_id),
            last,
        )

    def stats(self) -> dict[str, Any]:
        """The monitor's own cost and paths, for diagnostics and the benchmark."""
        sources = self._sampler.sources() if self._sampler is not None else {}
        return {
            "samples": self._samples_taken,
            "sample_cpu_seconds": self._sample_cpu_seconds,
            "stats_api_calls": self._stats_api.calls if self._stats_api else 0,
            "containers_via_stats_api": sum(1 for s in sources.values() if s == "stats_api"),
            "cgroup_version": self.layout.version if self.layout else None,
            "cgroup_driver": self.layout.driver if self.layout else None,
        }

    async def _prepare(self) -> ContainerSampler:
        async with self._prepare_lock:
            if self._sampler is None:
                self._sampler = await self._build_sampler()
            return self._sampler

    async def _build_sampler(self) -> ContainerSampler:
        self.layout, sampler = await build_sampler(
            self._config, self._docker, self._stats_api, self._host, self._monotonic_ns
        )
        self._recall_rules()
        return sampler

    def _recall_rules(self) -> None:
        """Go on from before a restart: firing alerts, cooldowns and the rule windows."""
        engine = self._engine
        now, tick = self._clock(), self._monotonic_ns() / 1e9
        margin = RECALL_MARGIN_INTERVALS * self._config.sample_interval_seconds
        try:
            resolved = self._alert_store.resolved_since(now - engine.longest_cooldown)
            engine.restore([*self._alert_store.firing(), *resolved], tick - now)
            if engine.longest_window > 0:
                since = now - engine.longest_window - margin
                taken = engine.prime(recall(self._db, since), tick - now)
                log.info("resources.rule_windows_recalled", points=taken)
        except sqlite3.Error as exc:
            log.warning("resources.recall_failed", error=str(exc))

    async def _current_targets(self) -> list[ContainerRef]:
        if self._provider is None:
            return self._targets
        try:
            return await resolve_targets(self._provider)
        except Exception:
            log.exception("resources.targets_failed")
            return self._targets

    def _sample_host(self, ts: float) -> HostSample | None:
        try:
            return self._host.sample(ts)
        except OSError as exc:
            log.warning("resources.host_sample_failed", error=str(exc))
            return None

    async def _prune(self, now: float) -> None:
        self._last_prune = now
        deleted = await self._history.prune_off_loop(now)
        deleted += self._alert_store.prune(now - self._history.minute_retention_seconds)
        if deleted:
            log.debug("resources.pruned", rows=deleted)


def _timestamp(value: float | datetime) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)
