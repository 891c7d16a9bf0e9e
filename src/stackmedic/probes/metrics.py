"""Probe results under the Prometheus blackbox exporter's names, so its dashboards and
alert rules work: ``probe_success``, ``probe_duration_seconds``, ``probe_http_status_code``,
``probe_ssl_earliest_cert_expiry``, labelled with deployment, service and target."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from stackmedic.probes.book import ProbeBook

LABELS = ["deployment", "service", "target"]


class ProbeMetrics:
    """Reads the last result of every probe at scrape time."""

    def __init__(self, book: ProbeBook) -> None:
        self._book = book

    def metric_families(self) -> list[Metric]:
        """One sample per probe that has run, in each family."""
        success = GaugeMetricFamily("probe_success", "Whether the probe passed.",
                                    labels=LABELS)
        duration = GaugeMetricFamily("probe_duration_seconds",
                                     "How long the probe took, in seconds.", labels=LABELS)
        status = GaugeMetricFamily("probe_http_status_code",
                                   "HTTP status of the answer (0: none).", labels=LABELS)
        expiry = GaugeMetricFamily("probe_ssl_earliest_cert_expiry",
                                   "When the server certificate expires, epoch seconds.",
                                   labels=LABELS)
        for record in self._book.records():
            last = record.last
            if last is None:
                continue
            labels = list(record.spec.key)
            success.add_metric(labels, 1.0 if last.ok else 0.0)
            duration.add_metric(labels, last.duration)
            if record.spec.kind.value == "http":
                status.add_metric(labels, float(last.status_code or 0))
            if last.cert_expires_at is not None:
                expiry.add_metric(labels, last.cert_expires_at)
        return [success, duration, status, expiry]
