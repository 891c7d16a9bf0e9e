"""Fallback reader through the engine's stats API, used where cgroup files are not readable."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiodocker
import structlog

from stackmedic.engine.docker_api import json_answer
from stackmedic.resources.cgroup_extra import DeviceIo, ExtraCounters
from stackmedic.resources.cgroups import count_cpus

log = structlog.get_logger(__name__)

# The stats endpoint answers a single sample without waiting for a second one from 1.41 on.
_ONE_SHOT_API = (1, 41)
STATS_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ApiReading:
    """One container's figures as the engine's stats API reports them."""

    cpu_ns: int
    system_ns: int | None
    online_cpus: int
    memory_bytes: int
    memory_limit_bytes: int
    cpu_core_percent: float | None = None
    usage_bytes: int = 0
    working_set_bytes: int = 0
    rss_bytes: int = 0
    cache_bytes: int = 0
    throttled_ns: int | None = None
    read_at: float | None = None
    """When the engine read these figures (Unix time)."""


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """A container's limits from its host config; None where there is none."""

    cpu_cores: float | None
    cpu_quota_us: int | None
    cpu_period_us: int | None
    memory_bytes: int | None


class StatsApiReader:
    """Reads container stats from the engine, a bounded number of requests at a time.

    The engine answers a stats request when its collector next runs (about once a second),
    so requests wait mostly on latency; they are issued concurrently to fit an interval.
    """

    def __init__(self, docker: aiodocker.Docker, *, concurrency: int = 32) -> None:
        self._docker = docker
        self._gate = asyncio.Semaphore(concurrency)
        self._one_shot: bool | None = None
        self.calls = 0
        self.failing: set[str] = set()  # containers whose last read failed (warned once)

    async def one_shot_supported(self) -> bool:
        """Whether the engine takes `one-shot` (API 1.41 and later)."""
        if self._one_shot is None:
            version = await self._docker.version()
            self._one_shot = _api_tuple(str(version.get("ApiVersion", "0"))) >= _ONE_SHOT_API
        return self._one_shot

    async def read(self, container_id: str) -> ApiReading | None:
        """Return the container's stats, or None when it is not running or is gone."""
        raw = await self.raw(container_id)
        return parse_stats(raw) if raw is not None else None

    async def raw(self, container_id: str) -> dict[str, Any] | None:
        """The engine's stats answer as it gave it; None when it gave none or failed."""
        async with self._gate:
            self.calls += 1
            try:
                async with asyncio.timeout(STATS_TIMEOUT_SECONDS):  # a wedged engine
                    if await self.one_shot_supported():
                        raw = await json_answer(self._docker, f"containers/{container_id}/stats",
                                                params={"stream": "0", "one-shot": "1"})
                    else:
                        container = self._docker.containers.container(container_id)
                        frames = await container.stats(stream=False)
                        raw = frames[-1] if frames else None
            except (aiodocker.DockerError, TimeoutError, ValueError) as exc:
                if getattr(exc, "status", None) != 404:
                    self._failed(container_id, exc)
                return None
        self.failing.discard(container_id)
        return raw if isinstance(raw, dict) else None

    def _failed(self, container_id: str, exc: BaseException) -> None:
        """Warn at the first failure of a container's reads, not at every sample after it."""
        first = container_id not in self.failing
        self.failing.add(container_id)
        (log.warning if first else log.debug)(
            "resources.stats_api_failed", container=container_id[:12], error=str(exc)
        )

    async def cpu_limit(self, container_id: str) -> float | None:
        """Return the container's CPU limit in cores from its host config, None when unlimited."""
        return (await self.limits(container_id)).cpu_cores

    async def limits(self, container_id: str) -> ApiLimits:
        """Return the container's CPU and memory limits from its host config."""
        try:
            container = await self._docker.containers.get(container_id)
        except (aiodocker.DockerError, TimeoutError):
            return ApiLimits(None, None, None, None)
        return limits_from_host_config(container["HostConfig"] or {})


def parse_stats(raw: dict[str, Any]) -> ApiReading | None:
    """Turn one stats API answer into figures; None for a container that is not running."""
    memory = raw.get("memory_stats") or {}
    cpu = raw.get("cpu_stats") or {}
    if not memory or "usage" not in memory or str(raw.get("read", "")).startswith("0001"):
        return None
    raw_usage = usage = int(memory.get("usage", 0))
    stats = memory.get("stats") or {}
    inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    if inactive < usage:
        usage -= int(inactive)
    v1 = "total_rss" in stats
    throttling = cpu.get("throttling_data") or {}
    cpu_ns = int((cpu.get("cpu_usage") or {}).get("total_usage", 0))
    system_ns = cpu.get("system_cpu_usage")
    online = (
        int(cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []))
        or 1
    )
    pre = raw.get("precpu_stats") or {}
    pre_system = pre.get("system_cpu_usage")
    core_percent = None
    if system_ns is not None and pre_system:
        pre_cpu = int((pre.get("cpu_usage") or {}).get("total_usage", 0))
        core_percent = cpu_core_percent(cpu_ns - pre_cpu, int(system_ns) - int(pre_system), online)
    return ApiReading(
        cpu_ns=cpu_ns,
        system_ns=int(system_ns) if system_ns is not None else None,
        online_cpus=online,
        memory_bytes=usage,
        memory_limit_bytes=int(memory.get("limit", 0)),
        cpu_core_percent=core_percent,
        usage_bytes=raw_usage,
        working_set_bytes=max(0, raw_usage - int(inactive)),
        rss_bytes=int(stats.get("total_rss" if v1 else "anon", 0)),
        cache_bytes=int(stats.get("total_cache" if v1 else "file", 0)),
        throttled_ns=int(throttling["throttled_time"]) if "throttled_time" in throttling else None,
        read_at=_read_time(str(raw.get("read", ""))),
    )


def _read_time(stamp: str) -> float | None:
    """Parse the engine's RFC 3339 read time (nanoseconds cut to microseconds)."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    try:
        return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00").timestamp()
    except ValueError:
        return None


def cpu_core_percent(cpu_delta: int, system_delta: int, online_cpus: int) -> float | None:
    """CPU use in percent of one core, as `docker stats` computes it."""
    if cpu_delta < 0 or system_delta <= 0:
        return None
    return cpu_delta / system_delta * online_cpus * 100.0


def cpu_limit_from_host_config(host_config: dict[str, Any]) -> float | None:
    """Return the CPU limit in cores set by `cpus:`, a CFS quota or a cpuset; None if none."""
    limits: list[float] = []
    if host_config.get("NanoCpus"):
        limits.append(int(host_config["NanoCpus"]) / 1e9)
    elif int(host_config.get("CpuQuota") or 0) > 0:
        limits.append(int(host_config["CpuQuota"]) / int(host_config.get("CpuPeriod") or 100_000))
    cpuset = str(host_config.get("CpusetCpus") or "")
    if cpuset:
        limits.append(float(count_cpus(cpuset)))
    return min(limits) if limits else None


def limits_from_host_config(host_config: dict[str, Any]) -> ApiLimits:
    """Limits as the cgroup shows them: `cpus:` is a quota over a 100 ms period."""
    quota: int | None = None
    period: int | None = None
    if host_config.get("NanoCpus"):
        period = 100_000
        quota = int(host_config["NanoCpus"]) * period // 1_000_000_000
    elif int(host_config.get("CpuQuota") or 0) > 0:
        period = int(host_config.get("CpuPeriod") or 100_000)
        quota = int(host_config["CpuQuota"])
    memory = int(host_config.get("Memory") or 0)
    return ApiLimits(
        cpu_cores=cpu_limit_from_host_config(host_config),
        cpu_quota_us=quota,
        cpu_period_us=period or 100_000,
        memory_bytes=memory or None,
    )


def _api_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (0,)


def counters_from_stats(raw: dict[str, Any]) -> ExtraCounters:
    """The extra figures the engine's stats API carries (where cgroup files are not read)."""
    cpu = (raw.get("cpu_stats") or {})
    usage = cpu.get("cpu_usage") or {}
    throttling = cpu.get("throttling_data") or {}
    memory = raw.get("memory_stats") or {}
    stats = memory.get("stats") or {}
    io: dict[tuple[int, int], list[int]] = {}
    for entry in (raw.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        figures = io.setdefault((int(entry["major"]), int(entry["minor"])), [0, 0])
        op = str(entry.get("op", "")).lower()
        if op in ("read", "write"):
            figures[op == "write"] = int(entry.get("value", 0))
    swap = stats.get("total_swap")
    return ExtraCounters(
        cpu_user_seconds=_ns(usage.get("usage_in_usermode")),
        cpu_system_seconds=_ns(usage.get("usage_in_kernelmode")),
        cfs_periods=throttling.get("periods"),
        cfs_throttled_periods=throttling.get("throttled_periods"),
        swap_bytes=int(swap) if swap is not None else None,
        failcnt=memory.get("failcnt"),
        max_usage_bytes=memory.get("max_usage"),
        io=tuple(DeviceIo(mj, mn, r, w) for (mj, mn), (r, w) in sorted(io.items())),
    )


def _ns(value: Any) -> float | None:
    return None if value is None else int(value) / 1e9
