"""Fallback reader through the engine's stats API, used where cgroup files are not readable."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiodocker
import structlog

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
        async with self._gate:
            self.calls += 1
            try:
                async with asyncio.timeout(STATS_TIMEOUT_SECONDS):  # a wedged engine
                    if await self.one_shot_supported():
                        raw = await self._docker._query_json(
                            f"containers/{container_id}/stats",
                            params={"stream": "0", "one-shot": "1"},
                        )
                    else:
                        container = self._docker.containers.container(container_id)
                        frames = await container.stats(stream=False)
                        raw = frames[-1] if frames else None
            except (aiodocker.DockerError, TimeoutError) as exc:
                if getattr(exc, "status", None) != 404:
                    self._failed(container_id, exc)
                return None
        self.failing.discard(container_id)
        return parse_stats(raw) if isinstance(raw, dict) else None

    def _failed(self, container_id: str, exc: BaseException) -> None:
        """Warn at the first failure of a container's reads, not at every sample after it."""
        first = container_id not in self.failing
        self.failing.add(container_id)
        (log.warning if first else log.debug)(
            "resources.stats_api_failed", container=container_id[:12], error=str(exc)
        )

    async def cpu_limit(self, container_id: str) -> float | None:
        """Return the container's CPU limit in cores from its host config, None when unlimited."""
        try:
            container = await self._docker.containers.get(container_id)
        except (aiodocker.DockerError, TimeoutError):
            return None
        return cpu_limit_from_host_config(container["HostConfig"] or {})


def parse_stats(raw: dict[str, Any]) -> ApiReading | None:
    """Turn one stats API answer into figures; None for a container that is not running."""
    memory = raw.get("memory_stats") or {}
    cpu = raw.get("cpu_stats") or {}
    if not memory or "usage" not in memory or str(raw.get("read", "")).startswith("0001"):
        return None
    usage = int(memory.get("usage", 0))
    stats = memory.get("stats") or {}
    inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    if inactive < usage:
        usage -= int(inactive)
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
    )


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


def _api_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (0,)
