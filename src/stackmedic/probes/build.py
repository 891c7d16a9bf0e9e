"""Builds the probe parts from the settings and hooks them to health and the notifier."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from stackmedic.deployments.catalog import Catalog
from stackmedic.engine.client import EngineClient
from stackmedic.health.engine import HealthEngine
from stackmedic.observe.state import ObservedState
from stackmedic.probes.config import ProbesConfig
from stackmedic.probes.metrics import ProbeMetrics
from stackmedic.probes.netns import NetnsSockets
from stackmedic.probes.notices import ProbeNotices, Submit
from stackmedic.probes.run import ProbeRunner
from stackmedic.probes.scheduler import ProbeScheduler

log = structlog.get_logger(__name__)

TICK_SECONDS = 0.5


@dataclass
class Probes:
    """The probe scheduler with what it tells and what it exposes."""

    config: ProbesConfig
    scheduler: ProbeScheduler
    notices: ProbeNotices
    metrics: ProbeMetrics
    sockets: NetnsSockets

    async def tick(self) -> None:
        """Start the probes that are due (every ``TICK_SECONDS``)."""
        if self.config.enabled:
            await self.scheduler.tick()

    async def close(self) -> None:
        """Cancel probes in flight and stop the namespace worker."""
        await self.scheduler.close()
        self.sockets.close()


def build_probes(config: ProbesConfig, *, catalog: Catalog, observed: ObservedState,
                 health: HealthEngine, engine: EngineClient, submit: Submit) -> Probes:
    """Every probe part, with the health engine reading what the probes say."""
    sockets = NetnsSockets()
    runner = ProbeRunner(sockets, config.outside_namespace)
    scheduler = ProbeScheduler(config, catalog, observed, health, runner,
                               engine.inspect_container)
    notices = ProbeNotices(config, scheduler.book, submit, health.refresh)
    scheduler.on_result = notices.on_result
    if config.enabled:
        health.probe_standing = scheduler.standing
    return Probes(config, scheduler, notices, ProbeMetrics(scheduler.book), sockets)
