"""The per-container collector: cgroup files first, the engine's stats API where they fail."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiodocker
import structlog

from stackmedic.resources.cgroup_reader import CgroupReader
from stackmedic.resources.cgroups import CgroupLayout, detect_layout
from stackmedic.resources.config import ResourcesConfig, SampleSource
from stackmedic.resources.host import HostSampler
from stackmedic.resources.models import (
    ContainerRef,
    ContainerSample,
    SampleDetail,
    SampleSourceName,
)
from stackmedic.resources.sample_build import HostShape, build_sample, seconds
from stackmedic.resources.stats_api import StatsApiReader, cpu_core_percent

log = structlog.get_logger(__name__)

__all__ = ["ContainerSampler", "HostShape", "build_sampler"]

_YIELD_EVERY = 256


@dataclass(slots=True)
class _Tracked:
    """What the collector keeps per container between samples."""

    ref: ContainerRef
    reader: CgroupReader | None = None
    prev_cpu_ns: int | None = None
    prev_clock_ns: int | None = None
    cpu_limit_cores: float | None = None
    memory_limit_bytes: int | None = None
    cpu_quota_us: int | None = None
    cpu_period_us: int | None = None
    limits_read_at: float | None = None
    via_api: bool = False


class ContainerSampler:
    """Samples a changing set of containers; CPU % comes from deltas between samples."""

    def __init__(
        self,
        *,
        layout: CgroupLayout | None,
        stats_api: StatsApiReader | None,
        source: SampleSource = "auto",
        limits_refresh_seconds: float = 60.0,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        cgroup_driver: str | None = None,
    ) -> None:
        self._driver = cgroup_driver
        self._layout = layout if source != "stats_api" else None
        self._api = stats_api if source != "cgroups" else None
        self._refresh_ns = int(limits_refresh_seconds * 1e9)
        self._monotonic_ns = monotonic_ns
        self._tracked: dict[str, _Tracked] = {}

    @property
    def uses_cgroups(self) -> bool:
        """Whether cgroup files are read at all."""
        return self._layout is not None

    def sources(self) -> dict[str, SampleSourceName]:
        """How each tracked container was last sampled, by container id."""
        return {cid: "stats_api" if t.via_api else "cgroups" for cid, t in self._tracked.items()}

    async def sample(
        self, targets: Sequence[ContainerRef], ts: float, host: HostShape
    ) -> list[ContainerSample]:
        """Sample every target once; containers that are not running are left out."""
        self._forget_except({ref.container_id for ref in targets})
        samples: list[ContainerSample] = []
        fallback: list[_Tracked] = []
        for index, ref in enumerate(targets):
            if index % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
            tracked = self._tracked.get(ref.container_id)
            if tracked is None:
                tracked = self._tracked[ref.container_id] = _Tracked(ref)
            tracked.ref = ref
            if self._layout is not None:
                sample = self._sample_cgroup(tracked, ts, host)
                if sample is not None:
                    samples.append(sample)
                    continue
            if self._api is not None:
                fallback.append(tracked)
        if fallback:
            results = await asyncio.gather(*(self._read_api(t, ts, host) for t in fallback))
            samples.extend(s for s in results if s is not None)
        return samples

    def close(self) -> None:
        """Close every kept-open descriptor."""
        self._forget_except(set())

    def _forget_except(self, keep: set[str]) -> None:
        for cid in [cid for cid in self._tracked if cid not in keep]:
            tracked = self._tracked.pop(cid)
            if tracked.reader is not None:
                tracked.reader.close()

    def _attach(self, tracked: _Tracked) -> bool:
        """Open the container's cgroup files if needed; False when they are not there."""
        if tracked.reader is not None:
            return True
        assert self._layout is not None
        files = self._layout.container_files(tracked.ref.container_id)
        if files is None:
            return False
        reader = CgroupReader(files)
        try:
            reader.open()
        except OSError as exc:
            log.debug("resources.cgroup_unreadable", container=tracked.ref.name, error=str(exc))
            return False
        tracked.reader = reader
        tracked.via_api = False
        tracked.prev_cpu_ns = tracked.prev_clock_ns = tracked.limits_read_at = None
        return True

    def _sample_cgroup(
        self, tracked: _Tracked, ts: float, host: HostShape
    ) -> ContainerSample | None:
        """Read the container's cgroup; a stale one (restarted container) is reopened once."""
        for _ in range(2):
            if not self._attach(tracked):
                return None
            sample = self._read_cgroup(tracked, ts, host)
            if sample is not None:
                return sample
        return None

    def _read_cgroup(self, tracked: _Tracked, ts: float, host: HostShape) -> ContainerSample | None:
        reader = tracked.reader
        assert reader is not None
        now_ns = self._monotonic_ns()
        try:
            counters = reader.read()
            if (
                tracked.limits_read_at is None
                or now_ns - tracked.limits_read_at >= self._refresh_ns
            ):
                limits = reader.read_limits()
                tracked.cpu_limit_cores = limits.cpu_cores
                tracked.memory_limit_bytes = limits.memory_bytes
                tracked.cpu_quota_us = limits.cpu_quota_us
                tracked.cpu_period_us = limits.cpu_period_us
                tracked.limits_read_at = now_ns
        except (OSError, ValueError):
            # The cgroup was removed (container stopped or restarted): reopen next time.
            reader.close()
            tracked.reader = None
            return None
        core_percent = None
        if tracked.prev_cpu_ns is not None and tracked.prev_clock_ns is not None:
            elapsed = now_ns - tracked.prev_clock_ns
            if elapsed > 0 and counters.cpu_ns >= tracked.prev_cpu_ns:
                core_percent = (counters.cpu_ns - tracked.prev_cpu_ns) / elapsed * 100.0
        tracked.prev_cpu_ns, tracked.prev_clock_ns = counters.cpu_ns, now_ns
        return build_sample(
            tracked.ref,
            tracked.cpu_limit_cores,
            ts,
            host,
            source="cgroups",
            core_percent=core_percent,
            cpu_ns=counters.cpu_ns,
            memory_bytes=counters.memory_bytes,
            memory_limit=tracked.memory_limit_bytes,
            oom_kills=counters.oom_kills,
            detail=SampleDetail(
                usage_bytes=counters.usage_bytes,
                working_set_bytes=counters.working_set_bytes,
                rss_bytes=counters.rss_bytes,
                cache_bytes=counters.cache_bytes,
                throttled_seconds=seconds(counters.throttled_ns),
                cpu_quota_us=tracked.cpu_quota_us,
                cpu_period_us=tracked.cpu_period_us,
                memory_limit_bytes=tracked.memory_limit_bytes,
                cgroup_path=reader.files.cgroup_path,
            ),
        )

    async def _read_api(
        self, tracked: _Tracked, ts: float, host: HostShape
    ) -> ContainerSample | None:
        assert self._api is not None
        cid = tracked.ref.container_id
        if not tracked.via_api:
            tracked.via_api = True
            tracked.prev_cpu_ns = tracked.prev_clock_ns = tracked.limits_read_at = None
        now_ns = self._monotonic_ns()
        if tracked.limits_read_at is None or now_ns - tracked.limits_read_at >= self._refresh_ns:
            limits = await self._api.limits(cid)
            tracked.cpu_limit_cores = limits.cpu_cores
            tracked.memory_limit_bytes = limits.memory_bytes
            tracked.cpu_quota_us = limits.cpu_quota_us
            tracked.cpu_period_us = limits.cpu_period_us
            tracked.limits_read_at = now_ns
        reading = await self._api.read(cid)
        if reading is None:
            tracked.prev_cpu_ns = tracked.prev_clock_ns = None
            return None
        core_percent = reading.cpu_core_percent
        if core_percent is None and reading.system_ns is not None:
            if tracked.prev_cpu_ns is not None and tracked.prev_clock_ns is not None:
                core_percent = cpu_core_percent(
                    reading.cpu_ns - tracked.prev_cpu_ns,
                    reading.system_ns - tracked.prev_clock_ns,
                    reading.online_cpus,
                )
            tracked.prev_cpu_ns, tracked.prev_clock_ns = reading.cpu_ns, reading.system_ns
        return build_sample(
            tracked.ref,
            tracked.cpu_limit_cores,
            ts,
            host,
            source="stats_api",
            core_percent=core_percent,
            cpu_ns=reading.cpu_ns,
            memory_bytes=reading.memory_bytes,
            memory_limit=reading.memory_limit_bytes or None,
            oom_kills=None,
            detail=SampleDetail(
                usage_bytes=reading.usage_bytes,
                working_set_bytes=reading.working_set_bytes,
                rss_bytes=reading.rss_bytes,
                cache_bytes=reading.cache_bytes,
                throttled_seconds=seconds(reading.throttled_ns),
                cpu_quota_us=tracked.cpu_quota_us,
                cpu_period_us=tracked.cpu_period_us,
                memory_limit_bytes=tracked.memory_limit_bytes,
                cgroup_path=self._cgroup_path(cid),
                read_at=reading.read_at,
            ),
        )

    def _cgroup_path(self, container_id: str) -> str:
        """The cgroup path the engine gives a container under its driver (cAdvisor's ``id``)."""
        if self._driver == "systemd":
            return f"/system.slice/docker-{container_id}.scope"
        return f"/docker/{container_id}"


async def build_sampler(
    config: ResourcesConfig,
    docker: aiodocker.Docker | None,
    stats_api: StatsApiReader | None,
    host: HostSampler,
    monotonic_ns: Callable[[], int] = time.monotonic_ns,
) -> tuple[CgroupLayout | None, ContainerSampler]:
    """Detect the cgroup layout (asking the engine for its driver and root) and build the sampler.

    The engine's data root is added to the host's watched disks as `docker`.
    """
    driver = None
    if docker is not None:
        try:
            info = await docker.system.info()
        except (aiodocker.DockerError, OSError) as exc:
            log.warning("resources.engine_info_failed", error=str(exc))
        else:
            driver = info.get("CgroupDriver")
            if info.get("DockerRootDir"):
                host.add_disk_path("docker", Path(info["DockerRootDir"]))
    layout = None
    if config.source != "stats_api":
        layout = detect_layout(config.cgroup_root, driver)
        if layout is None:
            log.warning(
                "resources.cgroups_unavailable",
                root=str(config.cgroup_root),
                fallback="stats_api" if config.source == "auto" and stats_api else "none",
            )
    sampler = ContainerSampler(
        layout=layout,
        stats_api=stats_api,
        source=config.source,
        limits_refresh_seconds=config.limits_refresh_seconds,
        monotonic_ns=monotonic_ns,
        cgroup_driver=driver,
    )
    return layout, sampler
