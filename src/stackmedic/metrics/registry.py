"""The agent's registry: one collector reading every source at scrape time, host-labelled.

The collector asks each of its sources for metric families when scraped; a part of the
agent that has figures to expose appends a ``MetricSource`` to ``Metrics.sources``. The
registry is the agent's own, never the process-global one, and also carries the agent's
process metrics. Every series gets the ``host`` label here, in one place, so a fleet's
Prometheus can tell the agents apart whatever a source forgets.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

log = structlog.get_logger(__name__)

HOST_LABEL = "host"


class MetricSource(Protocol):
    """Anything that can describe its current figures as metric families."""

    def metric_families(self) -> Iterable[Metric]:
        """The families to expose now."""


class CollectorSource:
    """Adapts a prometheus_client collector (e.g. the process collector) to a source."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def metric_families(self) -> Iterable[Metric]:
        """The collector's families."""
        return self.collector.collect()


def with_host(family: Metric, host: str) -> Metric:
    """A copy of ``family`` whose samples carry ``host`` (a sample's own ``host`` wins)."""
    labelled = copy.copy(family)
    labelled.samples = [
        s if HOST_LABEL in s.labels else s._replace(labels={HOST_LABEL: host, **s.labels})
        for s in family.samples
    ]
    return labelled


class AgentCollector(Collector):
    """The agent's one custom collector: gathers the families of every source per scrape."""

    def __init__(self, sources: list[MetricSource], host: str) -> None:
        self.sources = sources
        self.host = host

    def collect(self) -> Iterable[Metric]:
        """Yield every source's families; a failing source is logged and skipped."""
        for source in list(self.sources):
            try:
                families = [with_host(f, self.host) for f in source.metric_families()]
            except Exception:
                log.exception("metric source failed", source=type(source).__name__)
                continue
            yield from families


class Metrics:
    """The agent's registry: the collector over ``sources`` plus process metrics."""

    def __init__(self, sources: Iterable[MetricSource] = (), *, host: str) -> None:
        self.host = host
        self.sources: list[MetricSource] = [
            *sources,
            CollectorSource(ProcessCollector(registry=None)),  # the usual process_* series
        ]
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(AgentCollector(self.sources, host))
        self.loops: dict[str, Callable[[], Awaitable[None]]] = {}
        """Background readers a source needs, by task name (the agent runs them)."""

    def add(self, source: MetricSource) -> None:
        """Expose one more source's figures from the next scrape on."""
        self.sources.append(source)

    def render(self) -> bytes:
        """The text exposition format of everything registered."""
        return generate_latest(self.registry)
