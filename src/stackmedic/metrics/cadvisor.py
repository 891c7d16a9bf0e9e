"""Container series under cAdvisor's names and labels, from the resource sampler's snapshot.

Grafana's Docker dashboards and the community alert rules are written against cAdvisor;
these families let them work on stackmedic's figures unchanged. Semantics follow
cAdvisor: CPU time is a counter with ``cpu="total"``; the working set is usage minus
inactive file pages (0 when these exceed it); an unlimited memory limit is 0; the CFS
quota and throttled time appear only when a quota is set. Nothing is sampled here: the
figures are those of the resource monitor's latest sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from stackmedic.resources.models import ContainerSample, Snapshot

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
LABELS = (
    "id",
    "name",
    "image",
    "container_label_com_docker_compose_project",
    "container_label_com_docker_compose_service",
)


class ContainerFacts(Protocol):
    """What the observed state knows about a container (``ContainerState`` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def image(self) -> str: ...
    @property
    def started_at(self) -> float | None: ...
    @property
    def labels(self) -> dict[str, str]: ...


@dataclass
class _Families:
    """The families of one scrape, filled container by container."""

    cpu: CounterMetricFamily
    throttled: CounterMetricFamily
    working_set: GaugeMetricFamily
    usage: GaugeMetricFamily
    rss: GaugeMetricFamily
    cache: GaugeMetricFamily
    memory_limit: GaugeMetricFamily
    cpu_quota: GaugeMetricFamily
    cpu_period: GaugeMetricFamily
    last_seen: GaugeMetricFamily
    start_time: GaugeMetricFamily

    @classmethod
    def empty(cls) -> _Families:
        def gauge(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=LABELS)

        return cls(
            cpu=CounterMetricFamily(
                "container_cpu_usage_seconds_total",
                "Cumulative cpu time consumed in seconds.",
                labels=[*LABELS, "cpu"],
            ),
            throttled=CounterMetricFamily(
                "container_cpu_cfs_throttled_seconds_total",
                "Total time duration the container has been throttled.",
                labels=LABELS,
            ),
            working_set=gauge(
                "container_memory_working_set_bytes",
                "Current working set in bytes (usage minus inactive file pages).",
            ),
            usage=gauge(
                "container_memory_usage_bytes",
                "Current memory usage in bytes, including all memory regardless of when it was"
                " accessed.",
            ),
            rss=gauge("container_memory_rss", "Size of RSS in bytes."),
            cache=gauge("container_memory_cache", "Number of bytes of page cache memory."),
            memory_limit=gauge(
                "container_spec_memory_limit_bytes",
                "Memory limit for the container (0: unlimited).",
            ),
            cpu_quota=gauge("container_spec_cpu_quota", "CPU quota of the container."),
            cpu_period=gauge("container_spec_cpu_period", "CPU period of the container."),
            last_seen=gauge(
                "container_last_seen", "Last time a container was seen by the exporter."
            ),
            start_time=gauge(
                "container_start_time_seconds",
                "Start time of the container since unix epoch in seconds.",
            ),
        )

    def add(self, sample: ContainerSample, facts: ContainerFacts | None) -> None:
        # Usage values carry the time their cgroup was read, as cAdvisor's do, so rate()
        # divides by the sampling interval, not the scrape interval; specs carry none.
        labels, detail = _labels(sample, facts), sample.detail
        ts = detail.read_at if detail is not None and detail.read_at else sample.ts
        self.cpu.add_metric([*labels, "total"], sample.cpu_usage_seconds, timestamp=ts)
        self.last_seen.add_metric(labels, float(int(ts)), timestamp=ts)
        if facts is not None and facts.started_at is not None:
            self.start_time.add_metric(labels, facts.started_at)
        if detail is None:
            return
        self.working_set.add_metric(labels, detail.working_set_bytes, timestamp=ts)
        self.usage.add_metric(labels, detail.usage_bytes, timestamp=ts)
        self.rss.add_metric(labels, detail.rss_bytes, timestamp=ts)
        self.cache.add_metric(labels, detail.cache_bytes, timestamp=ts)
        self.memory_limit.add_metric(labels, detail.memory_limit_bytes or 0)
        if detail.cpu_period_us is not None:
            self.cpu_period.add_metric(labels, detail.cpu_period_us)
        if detail.cpu_quota_us is not None:
            self.cpu_quota.add_metric(labels, detail.cpu_quota_us)
            if detail.throttled_seconds is not None:
                self.throttled.add_metric(labels, detail.throttled_seconds, timestamp=ts)

    def all(self) -> list[Metric]:
        return [
            self.cpu,
            self.throttled,
            self.working_set,
            self.usage,
            self.rss,
            self.cache,
            self.memory_limit,
            self.cpu_quota,
            self.cpu_period,
            self.last_seen,
            self.start_time,
        ]


def _labels(sample: ContainerSample, facts: ContainerFacts | None) -> list[str]:
    ref = sample.ref
    path = sample.detail.cgroup_path if sample.detail is not None else ""
    labels = facts.labels if facts is not None else {}
    return [
        path or f"/docker/{ref.container_id}",
        (facts.name if facts is not None else "") or ref.name,
        facts.image if facts is not None else "",
        labels.get(PROJECT_LABEL, ""),
        labels.get(SERVICE_LABEL, ref.service),
    ]


class CadvisorMetrics:
    """cAdvisor-named container families from the latest resource snapshot."""

    def __init__(
        self,
        latest: Callable[[], Snapshot | None],
        container: Callable[[str], ContainerFacts | None],
    ) -> None:
        self._latest = latest
        self._container = container

    def metric_families(self) -> list[Metric]:
        """The families; empty until the first sample."""
        snapshot = self._latest()
        if snapshot is None:
            return []
        families = _Families.empty()
        for sample in snapshot.containers:
            families.add(sample, self._container(sample.ref.container_id))
        return families.all()
