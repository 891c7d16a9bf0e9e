"""Container series under cAdvisor's names and labels, from the resource sampler's snapshot.

Grafana's Docker dashboards and the community alert rules are written against cAdvisor;
these families let them work on stackmedic's figures unchanged. Semantics follow
cAdvisor: CPU time is a counter with ``cpu="total"``; the working set is usage minus
inactive file pages (0 when these exceed it); an unlimited memory limit is 0; the CFS
quota, periods and throttled time appear only when a quota is set. The core figures are
those of the resource monitor's latest sample; the rest (network, CPU user/system, block
I/O, filesystems, the root cgroup ``id="/"``) those ``CadvisorExtras`` read after it.
Docker labels on the allow-list are copied as ``container_label_<name>``; every series of
a scrape carries the same label names, empty where a container lacks the label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from stackmedic.metrics.cadvisor_extra import ExtrasView
from stackmedic.metrics.cadvisor_extra_families import (
    ExtraFamilies,
    cost_families,
    machine_families,
)
from stackmedic.metrics.cadvisor_labels import LabelAllowList, label_name
from stackmedic.metrics.config import COMPOSE_LABELS
from stackmedic.resources.models import ContainerSample, Snapshot

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
BASE_LABELS = ("id", "name", "image")


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
    """The core families of one scrape, filled container by container."""

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
    oom_events: CounterMetricFamily

    @classmethod
    def empty(cls, labels: list[str]) -> _Families:
        def gauge(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels)

        return cls(
            cpu=CounterMetricFamily(
                "container_cpu_usage_seconds_total",
                "Cumulative cpu time consumed in seconds.",
                labels=[*labels, "cpu"],
            ),
            throttled=CounterMetricFamily(
                "container_cpu_cfs_throttled_seconds_total",
                "Total time duration the container has been throttled.",
                labels=labels,
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
            oom_events=CounterMetricFamily(
                "container_oom_events_total",
                "Count of out of memory events observed for the container.",
                labels=labels,
            ),
        )

    def add(self, labels: list[str], sample: ContainerSample, facts: ContainerFacts | None) -> None:
        # Usage values carry the time their cgroup was read, as cAdvisor's do, so rate()
        # divides by the sampling interval, not the scrape interval; specs carry none.
        detail = sample.detail
        ts = detail.read_at if detail is not None and detail.read_at else sample.ts
        self.cpu.add_metric([*labels, "total"], sample.cpu_usage_seconds, timestamp=ts)
        self.last_seen.add_metric(labels, float(int(ts)), timestamp=ts)
        if facts is not None and facts.started_at is not None:
            self.start_time.add_metric(labels, facts.started_at)
        if sample.oom_kills is not None:
            self.oom_events.add_metric(labels, sample.oom_kills, timestamp=ts)
        if detail is None:
            return
        self.memory(labels, ts, detail.usage_bytes, detail.working_set_bytes,
                    detail.rss_bytes, detail.cache_bytes)
        self.memory_limit.add_metric(labels, detail.memory_limit_bytes or 0)
        if detail.cpu_period_us is not None:
            self.cpu_period.add_metric(labels, detail.cpu_period_us)
        if detail.cpu_quota_us is not None:
            self.cpu_quota.add_metric(labels, detail.cpu_quota_us)
            if detail.throttled_seconds is not None:
                self.throttled.add_metric(labels, detail.throttled_seconds, timestamp=ts)

    def memory(self, labels: list[str], ts: float, usage: int, working_set: int, rss: int,
               cache: int) -> None:
        """The memory gauges of one cgroup."""
        self.working_set.add_metric(labels, working_set, timestamp=ts)
        self.usage.add_metric(labels, usage, timestamp=ts)
        self.rss.add_metric(labels, rss, timestamp=ts)
        self.cache.add_metric(labels, cache, timestamp=ts)

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
            self.oom_events,
        ]


def docker_labels(sample: ContainerSample, facts: ContainerFacts | None) -> dict[str, str]:
    """The container's Docker labels; the Compose project and service from the sample when
    the observed state does not know the container."""
    labels = dict(facts.labels) if facts is not None else {}
    ref = sample.ref
    if ref.deployment:
        labels.setdefault(PROJECT_LABEL, ref.deployment)
    if ref.service:
        labels.setdefault(SERVICE_LABEL, ref.service)
    return labels


class CadvisorMetrics:
    """cAdvisor-named container and machine families from the latest resource snapshot."""

    def __init__(
        self,
        latest: Callable[[], Snapshot | None],
        container: Callable[[str], ContainerFacts | None],
        extras: ExtrasView | None = None,
        labels: LabelAllowList | None = None,
    ) -> None:
        self._latest = latest
        self._container = container
        self._extras = extras
        self._allow = labels if labels is not None else LabelAllowList([COMPOSE_LABELS])
        self._devices: dict[tuple[int, int], str] = {}

    def metric_families(self) -> list[Metric]:
        """The families; empty until the first sample."""
        if self._extras is not None:
            self._extras.want()
        snapshot = self._latest()
        if snapshot is None:
            return []
        rows = []
        for sample in snapshot.containers:
            facts = self._container(sample.ref.container_id)
            rows.append((sample, facts, docker_labels(sample, facts)))
        columns = self._allow.columns(labels for _, _, labels in rows)
        names = [*BASE_LABELS, *(label_name(c) for c in columns)]
        core, more = _Families.empty(names), ExtraFamilies(names, self._devices)
        for sample, facts, labels in rows:
            ref, detail = sample.ref, sample.detail
            values = [
                (detail.cgroup_path if detail is not None else "") or f"/docker/{ref.container_id}",
                (facts.name if facts is not None else "") or ref.name,
                facts.image if facts is not None else "",
                *(labels.get(c, "") for c in columns),
            ]
            core.add(values, sample, facts)
            if self._extras is not None:
                quota = detail is not None and detail.cpu_quota_us is not None
                more.add(values, self._extras.container(ref.container_id), quota)
                more.add_filesystems(values, self._extras.filesystems(ref.container_id))
        if self._extras is not None and self._extras.root is not None:
            root = self._extras.root
            values = ["/", "", "", *("" for _ in columns)]
            core.last_seen.add_metric(values, float(int(root.read_at)), timestamp=root.read_at)
            if root.reading is not None:
                r = root.reading
                core.cpu.add_metric([*values, "total"], r.cpu_seconds, timestamp=root.read_at)
                core.memory(values, root.read_at, r.usage_bytes, r.working_set_bytes,
                            r.rss_bytes, r.cache_bytes)
            more.add_root(values, root)
        costs = cost_families(self._extras.cost) if self._extras is not None else []
        return [*core.all(), *more.all(), *machine_families(snapshot.host), *costs]
