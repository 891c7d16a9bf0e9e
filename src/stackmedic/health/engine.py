"""HealthEngine: keeps every deployment's verdict current and reports each real change.

It hears each container change on the bus (engine events and sweeps), recomputes the
verdict of the deployment a change belongs to, and when the verdict or a service's status
differs from the last one reported it records the change (a history row and an event-log
row, ``transitions.py``) and publishes a ``HealthTransition`` on the bus. Time alone can
change a verdict (a start grace period or a crash-loop window ending), so a timer per
deployment rechecks it then (``recheck.py``).
Until the engine session says the containers were read since the stream (re)connected,
nothing is reported: the view is not current.

Grace periods and marks of stops in progress are waits, kept on the monotonic clock; the
verdict compares wall times with the containers' (the engine's) times, so they are handed
to it as wall times read at the same moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from typing import Any

from stackmedic.bus import Bus
from stackmedic.deployments.actions import Action
from stackmedic.deployments.catalog import Catalog
from stackmedic.deployments.events import (
    ActionFinished,
    ActionOrigin,
    ActionRequested,
    ActionStarted,
)
from stackmedic.deployments.scale import ScaleKeeper
from stackmedic.engine.client import EngineStatus
from stackmedic.engine.events import event_time
from stackmedic.health.activity import Activity
from stackmedic.health.answers import EngineView, engine_view, summary, with_containers
from stackmedic.health.config import HealthConfig
from stackmedic.health.crashloop import CrashLoopTracker
from stackmedic.health.flaps import FlapTracker
from stackmedic.health.history import HealthHistory
from stackmedic.health.model import DeploymentHealth, ProbeStanding, Verdict
from stackmedic.health.recheck import RecheckTimers
from stackmedic.health.transitions import TransitionRecorder
from stackmedic.health.verdict import HealthInputs, evaluate
from stackmedic.intent.events import StopPendingChanged
from stackmedic.observe.containers import ContainerState
from stackmedic.observe.events import (
    ContainerChanged,
    EngineConnected,
    EngineLost,
    EngineSynced,
)
from stackmedic.observe.state import ObservedState
from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.types import SYSTEM_CLOCK, Clock

ProbeStandings = Callable[[str, Sequence[ContainerState]], Mapping[str, ProbeStanding]]


class HealthEngine:
    """Deployment verdicts, their transitions and their history."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        observed: ObservedState,
        desired: DesiredStateStore,
        events: EventLog,
        db: Database,
        bus: Bus,
        config: HealthConfig,
        engine: EngineStatus,
        clock: Clock = SYSTEM_CLOCK,
        scale: ScaleKeeper | None = None,
    ) -> None:
        self._catalog = catalog
        self._scale = scale
        self._observed = observed
        self._desired = desired
        self._bus = bus
        self._config = config
        self._engine = engine
        self._synced = False  # as the engine session last told
        self._stops_pending: set[str] = set()  # deployments whose stops intent judges
        self._clock = clock
        self.history_store = HealthHistory(db)
        self.crashes = CrashLoopTracker(
            threshold=config.crash_loop_restarts, window=config.crash_loop_window_seconds
        )
        self._current: dict[str, DeploymentHealth] = {}
        self.flaps = FlapTracker(hold=config.flap_seconds)
        self._recorder = TransitionRecorder(self.history_store, events, clock)
        self._starting_until: dict[str, float] = {}  # monotonic
        self._rechecks = RecheckTimers(self._recheck)
        self._publish_lock = asyncio.Lock()
        self.activity = Activity(start_grace=config.start_grace_seconds)
        # Set by the log watch: what its firing ``affects_health`` rules say per deployment.
        self.log_problems: Callable[[str], tuple[str, ...]] | None = None
        # What endpoint probes say of each service (set by the probes package when on).
        self.probe_standing: ProbeStandings | None = None
        bus.subscribe(ActionStarted, self._on_action_started, name="health-actions")
        bus.subscribe(ActionFinished, self._on_action_finished, name="health-actions")
        bus.subscribe(ActionRequested, self._on_action_requested, name="health-requests")
        bus.subscribe(StopPendingChanged, self._on_stop_pending, name="health-stops")

    @property
    def transitions(self) -> int:
        """How many transitions were reported since the start."""
        return self._recorder.count

    # -- inputs -----------------------------------------------------------------------

    async def on_engine_connected(self, event: EngineConnected) -> None:
        """The resync after connecting is done: report from now on if it read everything."""
        self._synced = event.synced

    async def on_engine_synced(self, event: EngineSynced) -> None:
        """A later sweep read everything: report from now on."""
        self._synced = True

    async def on_engine_lost(self, event: EngineLost) -> None:
        """The stream ended: report nothing until the next resync."""
        self._synced = False

    async def on_container_change(self, change: ContainerChanged) -> None:
        """Account for crashes, then recompute the deployment the container belongs to."""
        previous, current, event = change.previous, change.current, change.event
        state = current or previous
        if state is None:
            return
        self.crashes.observe(previous, current, event, self._clock.wall())
        deployment = self._catalog.by_project(state.project)
        if deployment is None:
            return
        if event is not None:
            attributes = (event.get("Actor") or {}).get("Attributes") or {}
            self.activity.container_event(
                deployment.name, state.id, str(event.get("Action") or "").split(":", 1)[0],
                attributes.get("signal"), event_time(event), self._clock.monotonic(),
                running=current is not None and current.running,
            )
        elif previous is None and current is not None and current.being_created:
            # A sweep read it before its ``create`` event was handled (a busy agent): it is
            # someone's create all the same, not a container that failed to start.
            # behaviour: redeploy-person-compose
            self.activity.container_event(deployment.name, current.id, "create", None,
                                          self._clock.wall(), self._clock.monotonic(),
                                          running=False)
        await self._recompute(deployment.name)

    async def _on_action_started(self, event: ActionStarted) -> None:
        self.activity.action_started(event)
        await self._recompute(event.deployment)

    async def _on_action_finished(self, event: ActionFinished) -> None:
        self.activity.action_finished(event, self._clock.monotonic())
        if event.origin is ActionOrigin.PERSON and event.action in ("start", "restart"):
            self.mark_starting(event.deployment)
        await self._recompute(event.deployment)

    async def _on_stop_pending(self, event: StopPendingChanged) -> None:
        if event.pending:
            self._stops_pending.add(event.deployment)
        else:
            self._stops_pending.discard(event.deployment)
        self.activity.pending_changed(event.deployment, event.pending)
        await self._recompute(event.deployment)

    async def _on_action_requested(self, event: ActionRequested) -> None:
        await self.on_action(event.deployment, Action(event.action))

    async def on_action(self, name: str, action: Action) -> None:
        """A desired state was recorded through the agent: starts get the grace period."""
        if action in (Action.START, Action.RESTART):
            self.mark_starting(name)
        await self.refresh(name)

    def mark_starting(self, name: str) -> None:
        """Report ``starting`` rather than a failure until the start grace period ends."""
        self._starting_until[name] = self._clock.monotonic() + self._config.start_grace_seconds
        deployment = self._catalog.get(name)
        if deployment is not None:
            self.crashes.reset(deployment.project)

    async def refresh(self, name: str | None = None) -> None:
        """Recompute one deployment, or every one (after catalog or desired-state changes)."""
        if name is not None:
            await self._recompute(name)
            return
        for gone in set(self._current) - set(self._catalog.deployments):
            self._forget(gone)
        for known in sorted(self._catalog.deployments):
            await self._recompute(known)

    # -- computing --------------------------------------------------------------------

    def _view(self) -> EngineView:
        return engine_view(self._engine, self._synced)

    def evaluate(self, name: str, view: EngineView | None = None, *,
                 shown: bool = False, probes: bool = True) -> DeploymentHealth | None:
        """Compute the verdict of one deployment now, without reporting anything.

        Recovery reads it as it is; what people are ``shown`` also says when stackmedic's
        own recovery is acting (``starting``, not the outage it is causing or mending).
        Without ``probes``: what the containers alone say (whether to probe at all).
        """
        deployment = self._catalog.get(name)
        if deployment is None:
            return None
        view = view or self._view()
        now, mono = self._clock.wall(), self._clock.monotonic()

        def on_wall(until: float | None) -> float | None:
            return None if until is None else now + until - mono

        record = self._desired.get(name)
        containers = self._observed.for_project(deployment.project)
        standing = self.probe_standing
        return evaluate(
            HealthInputs(
                deployment=deployment,
                containers=containers,
                desired=record.state if record else None,
                now=now,
                service_desired={s: r.state for s, r in self._desired.services(name).items()},
                scales=self._scale.wanted(deployment) if self._scale else {},
                reachable=view.reachable,
                synced=view.synced,
                engine_error=view.error,
                starting_until=on_wall(self._starting_until.get(name)),
                crash_loops=self.crashes.loops(deployment.project, now),
                stopping=self.activity.stopping(name, mono, name in self._stops_pending),
                deploying_until=on_wall(self.activity.deploying_until(
                    name, mono, compose_waits(containers))),
                recovering=self.activity.recovering(name, mono) if shown else None,
                unpaused=self.activity.unpaused(name),
                log_problems=self.log_problems(name) if self.log_problems else (),
                probes=standing(name, containers) if standing and probes else {},
            )
        )

    async def _recompute(self, name: str) -> None:
        view = self._view()
        health = self.evaluate(name, view, shown=True)
        if health is None:
            self._forget(name)
            return
        self._current[name] = health
        now, mono = self._clock.wall(), self._clock.monotonic()
        self.flaps.observe(name, health, mono)
        if health.verdict.fine and health.verdict is not Verdict.STOPPED:
            # Not on `stopped`: a `compose up` of a deployment wanted stopped is read as
            # its creates before the start that makes it wanted running.
            self.activity.settled(name)
        check = self.activity.next_check(name, mono, name in self._stops_pending)
        later = [t for t in (None if health.recheck_at is None else health.recheck_at - now,
                             None if check is None else check - mono) if t is not None]
        self._rechecks.schedule(name, min(later) if later else None)
        if view.reachable and not view.synced and health.verdict is not Verdict.INVALID:
            return  # not read yet (agent start, reconnect): the resync will tell
        transition = self._recorder.record(name, health)
        if transition is not None:
            flap = self.flaps.flap(name)
            transition = replace(
                transition, settle_for=self.flaps.settle_for(name, health.verdict),
                flap=flap.describe() if flap is not None else None)
            async with self._publish_lock:
                await self._bus.publish(transition)

    # -- rechecks and forgetting ------------------------------------------------------

    def _recheck(self, name: str) -> Coroutine[Any, Any, None]:
        """A recheck fell due: the grace period may be over; recompute (as a task)."""
        if self._starting_until.get(name, float("inf")) <= self._clock.monotonic():
            del self._starting_until[name]
        return self._recompute(name)

    def _forget(self, name: str) -> None:
        self._current.pop(name, None)
        self.flaps.forget(name)
        self.activity.forget(name)
        self._starting_until.pop(name, None)
        self._rechecks.cancel(name)

    async def close(self) -> None:
        """Cancel pending rechecks."""
        await self._rechecks.close()

    # -- answers ----------------------------------------------------------------------

    def verdict(self, name: str) -> DeploymentHealth | None:
        """The current verdict of a deployment (None when there is no such deployment)."""
        return self._current.get(name) or self.evaluate(name, shown=True)

    def sustained_in(self, name: str, settle: float) -> float:
        """Seconds until the deployment's ill-health counts as sustained (0: it does now):
        ill without a break for ``settle``, or for ``health.flap_seconds`` when flapping."""
        return self.flaps.sustained(name, settle, self._clock.monotonic())

    def since(self, name: str) -> float | None:
        """When the deployment entered its reported verdict."""
        return self._recorder.since(name, self.verdict(name))

    def verdict_summary(self, name: str) -> dict[str, Any]:
        """Verdict, reason, since and per-service summary of one deployment."""
        return summary(name, self.verdict(name), self.since(name))

    def overview(self) -> list[dict[str, Any]]:
        """The summary of every deployment, by name."""
        return [self.verdict_summary(name) for name in sorted(self._catalog.deployments)]

    def detail(self, name: str) -> dict[str, Any]:
        """The summary plus every container's state and each service's recent crashes."""
        answer = self.verdict_summary(name)
        deployment = self._catalog.get(name)
        if deployment is None:
            return with_containers(answer, [], lambda service: [])
        now = self._clock.wall()
        return with_containers(
            answer,
            self._observed.for_project(deployment.project),
            lambda service: self.crashes.crashes(deployment.project, service, now),
        )

    def history(
        self, name: str, limit: int = 100, before: int | None = None
    ) -> list[dict[str, Any]]:
        """Transitions of one deployment, newest first; page with ``before`` (an id)."""
        return self.history_store.query(name, limit=limit, before_id=before)

    def prune(self, older_than_seconds: float) -> int:
        """Delete old history rows (each deployment keeps its newest)."""
        return self.history_store.prune(older_than_seconds)


def compose_waits(containers: Sequence[ContainerState]) -> bool:
    """Whether new containers wait for a dependency's healthcheck to pass: Compose starts a
    service with ``depends_on: condition: service_healthy`` only then."""
    return any(c.being_created for c in containers) and any(
        c.running and c.health == "starting" for c in containers)
