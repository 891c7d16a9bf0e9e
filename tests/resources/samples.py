"""Builders of synthetic samples and snapshots for the pure tests."""

from __future__ import annotations

from stackmedic.resources import ContainerRef, ContainerSample, DiskUsage, HostSample, Snapshot

MIB = 1024 * 1024


def container(
    ts: float,
    cid: str = "c1",
    *,
    cpu: float | None = 0.0,
    memory_percent: float = 10.0,
    memory_bytes: int | None = None,
    deployment: str = "shop",
    service: str = "web",
) -> ContainerSample:
    """A container sample; memory bytes follow the percent of a 100 MiB limit unless given."""
    limit = 100 * MIB
    return ContainerSample(
        ts=ts,
        ref=ContainerRef(cid, deployment, service, f"{deployment}-{service}-{cid}"),
        source="cgroups",
        cpu_core_percent=cpu,
        cpu_percent=cpu,
        cpu_limit_cores=1.0,
        cpu_usage_seconds=ts,
        memory_bytes=int(limit * memory_percent / 100) if memory_bytes is None else memory_bytes,
        memory_limit_bytes=limit,
        memory_percent=memory_percent,
        oom_kills=0,
    )


def host(
    ts: float,
    *,
    cpu: float | None = 5.0,
    memory_percent: float = 20.0,
    disks: dict[str, float] | None = None,
) -> HostSample:
    """A host sample with 8 GiB of memory and the given disk percentages by label."""
    total = 8 * 1024 * MIB
    return HostSample(
        ts=ts,
        cpu_count=4,
        cpu_percent=cpu,
        load1=0.5,
        load5=0.4,
        load15=0.3,
        memory_total_bytes=total,
        memory_used_bytes=int(total * memory_percent / 100),
        memory_available_bytes=int(total * (100 - memory_percent) / 100),
        memory_percent=memory_percent,
        swap_total_bytes=0,
        swap_used_bytes=0,
        swap_percent=0.0,
        disks=tuple(
            DiskUsage(label, f"/{label}", 100, int(p), 100 - int(p), p)
            for label, p in (disks or {}).items()
        ),
    )


def snapshot(
    ts: float, *containers: ContainerSample, host_sample: HostSample | None = None
) -> Snapshot:
    """A snapshot holding the given samples."""
    return Snapshot(ts=ts, host=host_sample, containers=containers)
