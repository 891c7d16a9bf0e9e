"""Prometheus exposition: one collector reading the agent's state at scrape time.

``registry`` holds the collector and the ``host`` label every series gets; the other
modules are the sources, imported from their modules (this package stays light so the
config schema can import ``MetricsConfig``): health verdicts and container states
(``health``), per-deployment fleet figures (``deployments``), the agent's own loops and
outbox (``agent_state``) and cAdvisor-compatible container series (``cadvisor``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackmedic.lazy import lazy_exports

if TYPE_CHECKING:
    from prometheus_client import CONTENT_TYPE_LATEST

    from stackmedic.metrics.config import MetricsConfig
    from stackmedic.metrics.registry import AgentCollector, Metrics, MetricSource

# Loaded on first access, so that importing one light module of this package (a
# config model, say) does not load the heavy ones and their libraries.
_LAZY = {
    "CONTENT_TYPE_LATEST": "prometheus_client",
    "MetricsConfig": "stackmedic.metrics.config",
    "AgentCollector": "stackmedic.metrics.registry",
    "Metrics": "stackmedic.metrics.registry",
    "MetricSource": "stackmedic.metrics.registry",
}

__all__ = [
    "CONTENT_TYPE_LATEST",
    "AgentCollector",
    "MetricSource",
    "Metrics",
    "MetricsConfig",
]


__getattr__ = lazy_exports(globals(), _LAZY)
