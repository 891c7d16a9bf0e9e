"""Building a container sample from what a reader gave: percentages against the limits."""

from __future__ import annotations

from dataclasses import dataclass

from stackmedic.resources.models import (
    ContainerRef,
    ContainerSample,
    SampleDetail,
    SampleSourceName,
)


@dataclass(frozen=True, slots=True)
class HostShape:
    """The host facts container percentages are relative to."""

    cpu_count: int
    memory_total_bytes: int


def build_sample(
    ref: ContainerRef,
    cpu_limit_cores: float | None,
    ts: float,
    host: HostShape,
    *,
    source: SampleSourceName,
    core_percent: float | None,
    cpu_ns: int,
    memory_bytes: int,
    memory_limit: int | None,
    oom_kills: int | None,
    detail: SampleDetail | None = None,
) -> ContainerSample:
    """One container's sample, percentages relative to its limits or the host's."""
    cores = float(host.cpu_count)
    if cpu_limit_cores is not None:
        cores = min(cores, cpu_limit_cores)
    limit = host.memory_total_bytes
    if memory_limit is not None and memory_limit > 0:
        limit = min(limit, memory_limit)
    return ContainerSample(
        ts=ts,
        ref=ref,
        source=source,
        cpu_core_percent=core_percent,
        cpu_percent=None if core_percent is None or cores <= 0 else core_percent / cores,
        cpu_limit_cores=cores,
        cpu_usage_seconds=cpu_ns / 1e9,
        memory_bytes=memory_bytes,
        memory_limit_bytes=limit,
        memory_percent=memory_bytes / limit * 100.0 if limit > 0 else 0.0,
        oom_kills=oom_kills,
        detail=detail,
    )

