"""Prometheus metric families built from the latest snapshot, for the agent's one collector."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from stackmedic.resources.models import ContainerRef, Snapshot, SpikeAlert

_CONTAINER_LABELS = ("deployment", "service", "container")


def metric_families(
    snapshot: Snapshot | None,
    active: Sequence[SpikeAlert],
    oom_kills: Callable[[ContainerRef], int] | None = None,
) -> list[Metric]:
    """Build the resource metric families; empty until the first sample.

    ``oom_kills`` gives a container's service's OOM kills so far (across recreation);
    without it the count is the container's own cgroup counter.
    """
    if snapshot is None:
        return []
    families: list[Metric] = []
    host = snapshot.host
    if host is not None:
        if host.cpu_percent is not None:
            families.append(
                GaugeMetricFamily(
                    "stackmedic_host_cpu_percent",
                    "Host CPU use, percent of all cores.",
                    value=host.cpu_percent,
                )
            )
        load = GaugeMetricFamily("stackmedic_host_load", "Host load average.", labels=["period"])
        for period, value in (("1m", host.load1), ("5m", host.load5), ("15m", host.load15)):
            load.add_metric([period], value)
        memory = GaugeMetricFamily(
            "stackmedic_host_memory_bytes", "Host memory by kind.", labels=["kind"]
        )
        memory.add_metric(["total"], host.memory_total_bytes)
        memory.add_metric(["used"], host.memory_used_bytes)
        memory.add_metric(["available"], host.memory_available_bytes)
        swap = GaugeMetricFamily(
            "stackmedic_host_swap_bytes", "Host swap by kind.", labels=["kind"]
        )
        swap.add_metric(["total"], host.swap_total_bytes)
        swap.add_metric(["used"], host.swap_used_bytes)
        disk = GaugeMetricFamily(
            "stackmedic_host_disk_bytes",
            "Space on the filesystems of watched paths.",
            labels=["label", "path", "kind"],
        )
        for d in host.disks:
            disk.add_metric([d.label, d.path, "total"], d.total_bytes)
            disk.add_metric([d.label, d.path, "used"], d.used_bytes)
            disk.add_metric([d.label, d.path, "free"], d.free_bytes)
        families += [load, memory, swap, disk]
    families += _container_families(snapshot, oom_kills)
    alerts = GaugeMetricFamily(
        "stackmedic_resource_alerts",
        "Spike alerts pending or firing now.",
        labels=["rule", "severity", "state"],
    )
    for (rule, severity, state), count in sorted(
        Counter((a.rule, a.severity, a.state) for a in active).items()
    ):
        alerts.add_metric([rule, severity, state], count)
    families.append(alerts)
    families.append(
        GaugeMetricFamily(
            "stackmedic_resource_sample_duration_seconds",
            "Wall time of the last resource sample.",
            value=snapshot.duration_seconds,
        )
    )
    return families


def _container_families(
    snapshot: Snapshot, oom_kills: Callable[[ContainerRef], int] | None
) -> list[Metric]:
    def gauge(name: str, doc: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, labels=_CONTAINER_LABELS)

    core = gauge("stackmedic_container_cpu_core_percent", "Container CPU use, percent of one core.")
    of_limit = gauge("stackmedic_container_cpu_percent", "Container CPU use, percent of its limit.")
    limit_cores = gauge("stackmedic_container_cpu_limit_cores", "Container CPU limit in cores.")
    cpu_seconds = CounterMetricFamily(
        "stackmedic_container_cpu_seconds", "Container CPU time used.", labels=_CONTAINER_LABELS
    )
    memory = gauge(
        "stackmedic_container_memory_bytes", "Container memory use, counted as docker stats does."
    )
    memory_limit = gauge("stackmedic_container_memory_limit_bytes", "Container memory limit.")
    memory_percent = gauge(
        "stackmedic_container_memory_percent", "Container memory use, percent of its limit."
    )
    oom = CounterMetricFamily(
        "stackmedic_container_oom_kills",
        "OOM kills of the container's service, each counted once, across recreation.",
        labels=_CONTAINER_LABELS,
    )
    for s in snapshot.containers:
        labels = [s.ref.deployment, s.ref.service, s.ref.name or s.ref.container_id[:12]]
        if s.cpu_core_percent is not None:
            core.add_metric(labels, s.cpu_core_percent)
        if s.cpu_percent is not None:
            of_limit.add_metric(labels, s.cpu_percent)
        limit_cores.add_metric(labels, s.cpu_limit_cores)
        cpu_seconds.add_metric(labels, s.cpu_usage_seconds)
        memory.add_metric(labels, s.memory_bytes)
        memory_limit.add_metric(labels, s.memory_limit_bytes)
        memory_percent.add_metric(labels, s.memory_percent)
        kills = oom_kills(s.ref) if oom_kills is not None else s.oom_kills
        if kills is not None:
            oom.add_metric(labels, kills)
    return [core, of_limit, limit_cores, cpu_seconds, memory, memory_limit, memory_percent, oom]
