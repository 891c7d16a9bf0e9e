"""Deployment verdicts and container states, read from health and the observed state."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

from stackmedic import __version__
from stackmedic.health.model import Verdict

if TYPE_CHECKING:
    from stackmedic.deployments.catalog import Catalog
    from stackmedic.health.engine import HealthEngine
    from stackmedic.observe.state import ObservedState

CONTAINER_LABELS = ["deployment", "service", "container"]
HEALTH_STATES = ("none", "starting", "healthy", "unhealthy")


class HealthMetrics:
    """Deployment verdicts and container states, labelled by deployment and service."""

    def __init__(
        self,
        health: HealthEngine,
        catalog: Catalog,
        observed: ObservedState,
        docker_up: Callable[[], bool],
    ) -> None:
        self._health = health
        self._catalog = catalog
        self._observed = observed
        self._docker_up = docker_up

    def metric_families(self) -> list[Metric]:
        """Families built from the current verdicts and observed containers."""
        info = InfoMetricFamily("stackmedic_agent", "The stackmedic agent.")
        info.add_metric([], {"version": __version__})
        docker = GaugeMetricFamily(
            "stackmedic_docker_up",
            "Whether the Docker Engine answers (1) or not (0).",
            value=1 if self._docker_up() else 0,
        )
        transitions = CounterMetricFamily(
            "stackmedic_health_transitions",
            "Health transitions reported since the agent started.",
            value=self._health.transitions,
        )
        return [
            info,
            docker,
            transitions,
            *self._deployment_families(),
            *self._container_families(),
        ]

    def _deployment_families(self) -> list[Metric]:
        verdict = GaugeMetricFamily(
            "stackmedic_deployment_verdict",
            "1 for the deployment's current health verdict, 0 for the others.",
            labels=["deployment", "verdict"],
        )
        since = GaugeMetricFamily(
            "stackmedic_deployment_verdict_since_timestamp_seconds",
            "When the deployment entered its current verdict.",
            labels=["deployment"],
        )
        service = GaugeMetricFamily(
            "stackmedic_service_status",
            "1 for the current status of each service (running, exited, crash-looping, ...).",
            labels=["deployment", "service", "status"],
        )
        for name in sorted(self._catalog.deployments):
            health = self._health.verdict(name)
            if health is None:
                continue
            for value in Verdict:
                verdict.add_metric([name, value.value], 1 if value is health.verdict else 0)
            started = self._health.since(name)
            if started is not None:
                since.add_metric([name], started)
            for s in health.services:
                service.add_metric([name, s.name, s.status.value], 1)
        return [verdict, since, service]

    def _container_families(self) -> list[Metric]:
        def gauge(name: str, doc: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=[*CONTAINER_LABELS, *extra])

        up = gauge("stackmedic_container_up", "Whether the container's process runs.")
        health = gauge(
            "stackmedic_container_health_status",
            "1 for the container's current healthcheck status.",
            ("status",),
        )
        restarts = gauge(
            "stackmedic_container_restart_count",
            "Restarts by the engine's restart policy since the container was made.",
        )
        exit_code = gauge(
            "stackmedic_container_exit_code", "Exit code of a container that is not running."
        )
        oom = gauge(
            "stackmedic_container_oom_killed",
            "Whether the container's last run ended by the OOM killer.",
        )
        for deployment in sorted(self._catalog.deployments.values(), key=lambda d: d.name):
            for c in self._observed.for_project(deployment.project):
                labels = [deployment.name, c.service, c.name]
                up.add_metric(labels, 1 if c.running else 0)
                for state in HEALTH_STATES:
                    health.add_metric([*labels, state], 1 if c.health == state else 0)
                restarts.add_metric(labels, c.restart_count)
                if not c.running and c.exit_code is not None:
                    exit_code.add_metric(labels, c.exit_code)
                oom.add_metric(labels, 1 if c.oom_killed else 0)
        return [up, health, restarts, exit_code, oom]
