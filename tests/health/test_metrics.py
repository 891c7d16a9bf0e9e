"""The agent's collector: sources read at scrape time, a failing source is skipped."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from stackmedic.metrics import Metrics


class Counter:
    def __init__(self) -> None:
        self.value = 0.0

    def metric_families(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("bench_value", "A value read at scrape time.", value=self.value)


class Broken:
    def metric_families(self) -> Iterable[Metric]:
        raise RuntimeError("source down")


def scrape(metrics: Metrics) -> dict[str, float]:
    text = metrics.render().decode()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_sources_are_read_per_scrape_and_added_later() -> None:
    first = Counter()
    metrics = Metrics([Broken(), first], host="h1")
    assert scrape(metrics)["bench_value"] == 0
    first.value = 7
    assert scrape(metrics)["bench_value"] == 7
    later = Counter()
    later.value = 1
    metrics.add(later)
    assert metrics.render().decode().count("\nbench_value{") == 2
    assert "process_cpu_seconds_total" in scrape(metrics)
