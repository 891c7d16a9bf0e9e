"""A recovery service over real parts the test controls, with no Docker.

Store, catalog, observed state, health engine, intent tracker, deployment actions, bus
and supervisor are the agent's own classes. The one stand-in is the executor: where the
agent runs ``docker compose``, ``ScriptedExecutor`` marks the container running in the
observed state (as the engine's events would) and can be told to raise or to hang, and
whether the engine answers after an action failed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from health.factories import connected, container, deployment
from stackmedic.bus import Bus
from stackmedic.deployments.actions import DeploymentActions
from stackmedic.deployments.catalog import Catalog
from stackmedic.deployments.model import Deployment
from stackmedic.engine.client import EngineClient
from stackmedic.health import HealthEngine
from stackmedic.health.config import HealthConfig
from stackmedic.intent.link import EngineLink
from stackmedic.intent.tracker import IntentTracker
from stackmedic.observe.containers import ContainerState
from stackmedic.observe.events import ContainerChanged
from stackmedic.observe.state import ObservedState
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.events import RecoveryEvent
from stackmedic.recovery.evidence_gather import EvidenceCollector
from stackmedic.recovery.executor import ActionExecutor
from stackmedic.recovery.policy import RecoveryStateStore
from stackmedic.recovery.runs import RecoveryRuns
from stackmedic.recovery.service import RecoveryService
from stackmedic.recovery.suggestions import Suggestion
from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog, EventQuery
from stackmedic.store.facts import Facts
from stackmedic.supervise.supervisor import Supervisor
from stackmedic.types import SYSTEM_CLOCK, Clock, DesiredState

QUICK: dict[str, Any] = {
    "settle_seconds": 0.05, "backoff_initial_seconds": 0.1, "backoff_max_seconds": 0.4,
    "verify_timeout_seconds": 10, "verify_stable_seconds": 0.01,
}


class ScriptedExecutor(ActionExecutor):
    """Carries out actions on the observed state; ``fail`` raises, ``hold`` hangs."""

    def __init__(self, rig: Rig) -> None:
        super().__init__(None, rig.engine)
        self._rig = rig
        self.done: list[str] = []
        self.fail: list[BaseException] = []  # raised by the next actions, in order
        self.hold: asyncio.Event | None = None  # while set, actions wait for it
        self.hold_only: str | None = None  # the one project whose actions wait for it
        self.waiting = 0
        self.silent: str | None = None  # why the engine does not answer after a failure

    async def _engine_silent(self) -> str | None:
        return self.silent

    async def _dispatch(self, deployment: Deployment, suggestion: Suggestion) -> None:
        if self.fail:
            raise self.fail.pop(0)
        if self.hold is not None and self.hold_only in (None, deployment.project):
            self.waiting += 1
            await self.hold.wait()
        self.done.append(suggestion.describe())
        await self._rig.put(container(suggestion.service, project=deployment.project,
                                      started_at=time.time()))


class Rig:
    """A recovery service of deployment ``shop`` (web, db) wanted running."""

    def __init__(self, tmp_path: Path, *, clock: Clock = SYSTEM_CLOCK, **config: Any) -> None:
        self.db = Database(tmp_path / "s.db")
        self.catalog = Catalog(tmp_path, None, Facts(self.db))
        self.catalog.deployments = {"shop": deployment("web", "db")}
        self.observed = ObservedState()
        self.desired = DesiredStateStore(self.db)
        self.desired.set("shop", DesiredState.RUNNING, "api")
        self.events = EventLog(self.db)
        self.bus = Bus()
        self.engine = EngineClient("unix:///nowhere")
        self.engine.status.reachable = True  # nothing here needs to ask it
        self.health = HealthEngine(
            catalog=self.catalog, observed=self.observed, desired=self.desired,
            events=self.events, db=self.db, bus=self.bus, config=HealthConfig(),
            engine=self.engine.status,
        )
        self.intent = IntentTracker(
            self.desired, self.events, self.catalog, self.observed,
            stop_settle_seconds=60, start_settle_seconds=0.1, bus=self.bus,
            link=EngineLink(True, 1, 0.0),
        )
        self.actions = DeploymentActions(self.catalog, None, self.desired, self.events,
                                         self.intent, self.observed, bus=self.bus)
        self.supervisor = Supervisor(restart_initial=0.05, restart_max=0.2)
        self.executor = ScriptedExecutor(self)
        self.runs = RecoveryRuns(self.db)
        self.announced: list[RecoveryEvent] = []
        self.bus.subscribe(RecoveryEvent, self._announced)
        self.config = RecoveryConfig.model_validate({**QUICK, **config})
        self.service = RecoveryService(
            self.config, catalog=self.catalog, desired=self.desired, health=self.health,
            events=self.events, bus=self.bus, actions=self.actions, executor=self.executor,
            collector=EvidenceCollector(self.engine, None, self.observed, self.desired,
                                        log_tail_lines=0),
            runs=self.runs, states=RecoveryStateStore(self.db, clock),
            containers=self.observed.for_project, supervisor=self.supervisor, clock=clock,
        )

    async def start(self) -> None:
        """Start the service with the containers read (as after the agent's resync)."""
        await self.health.on_engine_connected(connected())
        self.service.start()

    def add(self, name: str, *services: str, wanted: DesiredState = DesiredState.RUNNING
            ) -> None:
        """Another deployment, with its desired state."""
        self.catalog.deployments[name] = deployment(*services, name=name)
        self.desired.set(name, wanted, "api")

    async def _announced(self, event: RecoveryEvent) -> None:
        self.announced.append(event)

    async def put(self, *states: ContainerState) -> None:
        """Apply container states, then tell the health engine about each."""
        previous = [self.observed.upsert(state) for state in states]
        for before, state in zip(previous, states, strict=True):
            await self.health.on_container_change(ContainerChanged(before, state))

    async def crash(self, service: str, code: int = 3, project: str = "shop") -> None:
        """A container of ``service`` exits by itself with ``code`` (how long it had run is
        not known, so a verification watches for ``verify_stable_seconds`` only)."""
        await self.put(replace(container(service, project=project), status="exited",
                               exit_code=code, finished_at=time.time()))

    def outcomes(self, name: str = "shop") -> list[str]:
        """Outcomes of the deployment's recovery runs, oldest first."""
        return [str(r["outcome"]) for r in reversed(self.runs.list(name))]

    def logged(self, kind: str) -> list[dict[str, Any]]:
        """Event-log rows of ``kind``, newest first."""
        return self.events.query(EventQuery(kind=kind))

    async def close(self) -> None:
        """End every task the rig started."""
        await self.service.close()
        await self.supervisor.close(timeout=2)
        await self.intent.close()
        await self.health.close()
        await self.engine.close()
        self.db.close()
