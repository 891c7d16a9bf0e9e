"""Builds the agent's /metrics collector from the parts whose state it reads at scrape time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackmedic.metrics.agent_state import AgentMetrics, ReconcileCounter
from stackmedic.metrics.cadvisor import CadvisorMetrics
from stackmedic.metrics.cadvisor_extra import CadvisorExtras
from stackmedic.metrics.cadvisor_labels import LabelAllowList
from stackmedic.metrics.config import MetricsConfig
from stackmedic.metrics.deployments import DeploymentMetrics, open_problems
from stackmedic.metrics.health import HealthMetrics
from stackmedic.metrics.registry import Metrics

if TYPE_CHECKING:
    from stackmedic.alerts.bridge import NotificationBridge
    from stackmedic.bus import Bus
    from stackmedic.deployments.catalog import Catalog
    from stackmedic.engine.client import EngineClient
    from stackmedic.health import HealthEngine
    from stackmedic.observe.state import ObservedState
    from stackmedic.resources import ResourceMonitor
    from stackmedic.store.db import Database
    from stackmedic.store.desired import DesiredStateStore
    from stackmedic.store.facts import Facts
    from stackmedic.supervise.heartbeat import Heartbeats


def build_metrics(
    *,
    host: str,
    cadvisor: bool,
    bus: Bus,
    db: Database,
    facts: Facts,
    desired: DesiredStateStore,
    catalog: Catalog,
    observed: ObservedState,
    engine: EngineClient,
    health: HealthEngine,
    resources: ResourceMonitor,
    notifications: NotificationBridge,
    heartbeats: Heartbeats,
    config: MetricsConfig | None = None,
) -> Metrics:
    """Health and resources, the fleet families, the agent's own, and cAdvisor's if asked."""
    reconciles = ReconcileCounter(facts)
    reconciles.subscribe(bus)
    metrics = Metrics([
        HealthMetrics(health, catalog, observed, lambda: engine.status.reachable), resources,
    ], host=host)
    metrics.add(DeploymentMetrics(
        db, desired, deployments=lambda: list(catalog.deployments),
        open_problems=lambda: open_problems(
            notifications.episodes.open, resources.alerts("firing")),
    ))
    metrics.add(AgentMetrics(db, reconciles, heartbeats))
    if cadvisor:
        config = config or MetricsConfig()
        extras = CadvisorExtras(resources, config, inspect=engine.inspect_container,
                                docker=lambda: engine.docker)
        metrics.add(CadvisorMetrics(resources.latest, observed.get, extras,
                                    LabelAllowList(config.cadvisor_labels)))
        metrics.loops["cadvisor-extras"] = extras.run
    return metrics
