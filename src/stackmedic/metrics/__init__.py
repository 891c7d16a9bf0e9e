"""Prometheus exposition: one collector reading the agent's state at scrape time.

``registry`` holds the collector and the ``host`` label every series gets; the other
modules are the sources, imported from their modules (this package stays light so the
config schema can import ``MetricsConfig``): health verdicts and container states
(``health``), per-deployment fleet figures (``deployments``), the agent's own loops and
outbox (``agent_state``) and cAdvisor-compatible container series (``cadvisor``).
"""

from prometheus_client import CONTENT_TYPE_LATEST

from stackmedic.metrics.config import MetricsConfig
from stackmedic.metrics.registry import AgentCollector, Metrics, MetricSource

__all__ = ["CONTENT_TYPE_LATEST", "AgentCollector", "MetricSource", "Metrics", "MetricsConfig"]
