"""Builds the recovery parts from their settings: the service, the reconciler, the adviser."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stackmedic.bus import Bus
from stackmedic.deployments.actions import DeploymentActions
from stackmedic.deployments.catalog import Catalog
from stackmedic.deployments.scale import ScaleKeeper
from stackmedic.engine.client import EngineClient
from stackmedic.engine.compose import ComposeRunner
from stackmedic.health.engine import HealthEngine
from stackmedic.intent.tracker import IntentTracker
from stackmedic.observe.state import ObservedState
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.evidence_gather import EvidenceCollector, LogFingerprints
from stackmedic.recovery.executor import ActionExecutor
from stackmedic.recovery.exits import ExitLedger
from stackmedic.recovery.policy import RecoveryStateStore
from stackmedic.recovery.reconcile import RestartReconciler
from stackmedic.recovery.runs import RecoveryRuns
from stackmedic.recovery.service import RecoveryService
from stackmedic.resources import ResourceMonitor
from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.store.facts import Facts
from stackmedic.supervise.supervisor import Supervisor

if TYPE_CHECKING:
    from stackmedic.recovery.llm import LlmAdviser


@dataclass(frozen=True)
class Recovery:
    """The recovery parts of one agent."""

    service: RecoveryService
    reconciler: RestartReconciler
    adviser: LlmAdviser | None  # only when an LLM endpoint is configured

    async def aclose(self) -> None:
        """Close the adviser's HTTP client (the service closes on its own)."""
        if self.adviser is not None:
            await self.adviser.aclose()


def build_recovery(
    config: RecoveryConfig,
    *,
    db: Database,
    bus: Bus,
    catalog: Catalog,
    desired: DesiredStateStore,
    events: EventLog,
    observed: ObservedState,
    health: HealthEngine,
    intent: IntentTracker,
    actions: DeploymentActions,
    exits: ExitLedger,
    resources: ResourceMonitor,
    engine: EngineClient,
    runner: ComposeRunner | None,
    supervisor: Supervisor,
    scale: ScaleKeeper,
    secrets: Sequence[str],
    log_fingerprints: LogFingerprints | None = None,
) -> Recovery:
    """The recovery service, its restart reconciler and the LLM adviser if configured."""
    adviser = None
    if config.llm is not None:  # its HTTP client is loaded only when configured
        from stackmedic.recovery.llm import LlmAdviser

        adviser = LlmAdviser(config.llm, secrets=secrets)
    service = RecoveryService(
        config,
        catalog=catalog, desired=desired, health=health, events=events, bus=bus,
        actions=actions, executor=ActionExecutor(runner, engine, scale),
        collector=EvidenceCollector(
            engine, runner, observed, desired, log_tail_lines=config.log_tail_lines,
            memory_trend=resources.memory_trend, secrets=lambda: secrets,
            log_fingerprints=log_fingerprints,
        ),
        runs=RecoveryRuns(db), states=RecoveryStateStore(db), adviser=adviser,
        stop_pending=intent.stop_pending, containers=observed.for_project,
        oom_kills=exits.oom_kills, supervisor=supervisor,
    )
    reconciler = RestartReconciler(
        service, catalog=catalog, desired=desired, health=health, engine=engine,
        events=events, bus=bus, containers=observed.for_project, supervisor=supervisor,
        facts=Facts(db), actions=actions, stop_pending=intent.stop_pending,
    )
    return Recovery(service, reconciler, adviser)
