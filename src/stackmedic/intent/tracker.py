"""Decides when a stop or start seen on the engine is the user's intent.

An orderly daemon shutdown (as on a host reboot) emits the same kill/die/stop events as a
user's ``docker stop``. A ``docker kill`` emits kill/die only, and is a stop too (Docker
marks the container stopped by hand, so no restart policy restarts it): its die stands
for the stop event. So each stop is stored as *pending* with its evidence (the engine's
times, the daemon's identity, whether the daemon still accepted a new connection after the
stop began) and decided by ``intent.burst``: when the settle period passes with the daemon
up, when the event stream ends, when the agent is stopped, or when it starts again and
finds stops left pending by an earlier run. Events of the agent's own actions are not
intent either (``intent.windows``). What each of those moments judges is ``intent.decide``;
what a judged stop or start makes of the desired state, ``intent.apply``; the stops waiting
are ``intent.pending``. Times are the engine's: the agent's own moments (its actions, its
probes, the stream's end) are put on the daemon's clock with ``to_engine``. What it knows of
the engine connection, it hears from the engine session on the bus (``observe.events``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from stackmedic.bus import Bus
from stackmedic.deployments.catalog import Catalog
from stackmedic.engine.events import event_time
from stackmedic.intent.apply import DesiredChanges
from stackmedic.intent.decide import (
    after_settle,
    at_agent_start,
    at_agent_stop,
    at_stream_end,
    replaced_by_compose,
)
from stackmedic.intent.evidence import StopEvidence
from stackmedic.intent.link import EngineLink
from stackmedic.intent.pending import Key, PendingStop, PendingStops
from stackmedic.intent.probe import accepts_connections
from stackmedic.intent.record import Decision, DecisionLog
from stackmedic.intent.windows import ActionWindow, ActionWindows
from stackmedic.observe.boot import daemon_identity
from stackmedic.observe.containers import (
    LABEL_ONEOFF,
    LABEL_PROJECT,
    LABEL_SERVICE,
    ContainerState,
)
from stackmedic.observe.events import (
    EngineConnected,
    EngineEvent,
    EngineEventApplied,
    EngineLost,
)
from stackmedic.observe.state import ObservedState
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.store.pending import PendingStopStore, StoredStop

# Events of a container's stop and removal: while they come, Compose may still be replacing.
STOP_ACTIONS = frozenset({"kill", "die", "stop", "destroy"})


class IntentTracker:
    """Watches container stop/start events and records the user's intent they carry."""

    def __init__(
        self,
        desired: DesiredStateStore,
        events: EventLog,
        catalog: Catalog,
        observed: ObservedState,
        *,
        stop_settle_seconds: float,
        start_settle_seconds: float,
        bus: Bus | None = None,
        docker_host: str | None = None,
        link: EngineLink | None = None,
        to_engine: Callable[[float], float] = lambda local: local,
    ) -> None:
        self._catalog = catalog
        self._observed = observed
        self._changes = DesiredChanges(desired, catalog, observed)
        self._stop_settle = stop_settle_seconds
        self._start_settle = start_settle_seconds
        self.link = link or EngineLink()
        self._host = docker_host
        self._log = DecisionLog(events, bus)
        self._to_engine = to_engine
        self._windows = ActionWindows(self._engine_now)
        self._identity: str | None = None
        self._pending = PendingStops(PendingStopStore(desired.db))
        self._timers: set[asyncio.Task[None]] = set()
        self._evidence = StopEvidence(docker_host, self._pending.answered, self._engine_now)
        # The last stop event of each container, per deployment (replacements wait on it).
        self._stops_seen: dict[str, dict[str, float]] = {}
        # A start seen before the observed state applied it, judged once it has.
        self._start_due: tuple[Key, str, str] | None = None

    def _engine_now(self) -> float:
        return self._to_engine(time.time())

    # -- the agent's own actions ------------------------------------------------------

    def begin_action(self, deployment: str, action: str = "recover",
                     services: frozenset[str] | None = None) -> ActionWindow:
        """The agent starts acting: the events this action can cause are not intent."""
        return self._windows.begin(deployment, action, services)

    async def end_action(self, deployment: str, window: ActionWindow | None = None) -> None:
        """The agent's action on a deployment ended."""
        self._windows.end(deployment, window)
        if window is None or window.action != "start":
            return

        # A recreate by ``up`` stops the old container and removes it: no one's stop. And a
        # start through stackmedic is the person's later word on a stop of what it started
        # that came before it and is not judged yet (left, it would hold a crash that
        # follows as "stopping"); a stop during the start is newer, and stays theirs.
        def superseded(pending: PendingStop) -> bool:
            started = window.services is None or pending.service in window.services
            if started and pending.evidence is not None \
                    and pending.evidence.stop_at < window.start:
                return True
            removed = self._evidence.destroyed_at(pending.container_id)
            return removed is not None and window.covers(removed)

        if self._pending.drop(deployment, superseded):
            await self._log.pending_changed(deployment, False)

    # -- queries ----------------------------------------------------------------------

    def stop_pending(self, deployment: str) -> bool:
        """Whether a stop of this deployment awaits confirmation as intent."""
        return self._pending.waiting(deployment)

    @property
    def pending(self) -> list[PendingStop]:
        """Stops waiting for confirmation."""
        return self._pending.all()

    async def start(self) -> None:
        """Tell the bus of the stops an earlier agent run left pending (health shows them)."""
        for deployment in self._pending.deployments():
            await self._log.pending_changed(deployment, True)

    # -- engine events ----------------------------------------------------------------

    async def on_engine_event(self, event: EngineEvent) -> None:
        """One engine event, before the observed state applies it: stops are probed at once."""
        await self.before_applied(event.raw)

    async def on_engine_event_applied(self, event: EngineEventApplied) -> None:
        """The event once applied: a start is judged against the state it made (health,
        hearing of a stop no longer pending, then reads the started container running)."""
        await self.after_applied(event.raw)

    async def on_event(self, event: dict[str, Any]) -> None:
        """Feed one engine event (both halves, for a state applied elsewhere)."""
        await self.before_applied(event)
        await self.after_applied(event)

    async def after_applied(self, event: dict[str, Any]) -> None:
        """The second half of an engine event: the start it may carry."""
        start, self._start_due = self._start_due, None
        if start is not None and start[0] == _event_key(event):
            key, deployment, service = start
            await self._on_start(deployment, service, key[1])

    async def before_applied(self, event: dict[str, Any]) -> None:
        """The first half of an engine event: its evidence, and the stop it may carry."""
        self._start_due = None
        if event.get("Type") != "container":
            return
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        action = str(event.get("Action") or "")
        container_id, at = _event_key(event)
        self._evidence.remember(container_id, action, at, attributes)
        try:
            await self._on_deployment_event(container_id, action, at, attributes)
        finally:
            if action == "stop":
                self._evidence.stopped(container_id)

    async def _on_deployment_event(self, container_id: str, action: str, at: float,
                                   attributes: dict[str, Any]) -> None:
        project = attributes.get(LABEL_PROJECT)
        service = attributes.get(LABEL_SERVICE)
        if not project or not service or attributes.get(LABEL_ONEOFF) == "True":
            return
        deployment = self._catalog.by_project(project)
        if deployment is None:
            return
        if action in STOP_ACTIONS:
            self._saw_stop(deployment.name, container_id, at)
        if self._windows.own(deployment.name, container_id, service, action, at):
            return
        if action == "kill" and self._evidence.began(container_id) == at:
            self._evidence.probe(container_id)
        elif action == "die" and self._evidence.killed(container_id, at):  # behaviour: kill-person
            # A ``docker kill`` (or ``docker rm -f``) ends without a ``stop`` event, and
            # Docker's restart policy leaves it stopped: it is a stop like any other. When
            # a ``stop`` event follows (``docker stop``, a shutdown), it takes this one's
            # place (``_on_stop``).
            await self._on_stop(deployment.name, service, container_id, at)
        elif action == "stop":
            await self._on_stop(deployment.name, service, container_id, at)
        elif action == "start" and not self._policy_restart(container_id):
            self._start_due = ((container_id, at), deployment.name, service)

    def _policy_restart(self, container_id: str) -> bool:
        """Whether a start is Docker's restart policy bringing back a container that died by
        itself. Under ``no`` nothing restarts it: a start after a crash is a person's.
        behaviour: loop-policy-restarts, crash-then-start-person
        """
        if not self._evidence.restarted_after_crash(container_id):
            return False
        before = self._observed.get(container_id)  # the start is not applied yet
        return before is None or before.restarted_after_exit

    async def _on_stop(self, deployment: str, service: str, container_id: str,
                       at: float) -> None:
        if self._changes.wanted_stopped(deployment, service):
            return
        was_pending = self.stop_pending(deployment)
        died, code = self._evidence.died(container_id)
        answered, refused = self._evidence.answer(container_id)
        evidence = StoredStop(
            container_id, at, deployment, service, kill_at=self._evidence.began(container_id),
            die_at=died, exit_code=code, daemon=self._identity, answered_at=answered,
            refused_at=refused, seen_at=time.time(),
        )
        # Held from its die, this stop takes its place, in one write: an agent killed in
        # between finds exactly one of them at its next start.
        replacing = died if died is not None and died != at else None
        if not self._pending.add(evidence, self.link.number, replacing):
            return  # a replay of a stop already pending
        self._evidence.probe(container_id)  # no kill seen (or replayed): ask now
        if not was_pending:
            await self._log.pending_changed(deployment, True)
        timer = asyncio.create_task(self._confirm_later((container_id, at)))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def _confirm_later(self, key: Key) -> None:
        await asyncio.sleep(self._stop_settle)
        while (held := self._pending.get(key)) is not None and held.evidence is not None \
                and self._changes.replacement_waits(
                    held.evidence, self._converging(held.deployment, held.container_id)):
            await asyncio.sleep(self._stop_settle)  # a start will supersede it
        pending = self._pending.get(key)
        if pending is None or pending.evidence is None:
            return
        if not self.link.connected or self.link.number != pending.connection:
            return  # the stream ended meanwhile and decided it
        evidence = pending.evidence
        if evidence.answered_at is None and evidence.refused_at is not None and self._host \
                and not await accepts_connections(self._host):
            return  # a shutdown slower than the settle: the stream's end will decide
        if self._pending.get(key) is None or self.link.number != pending.connection \
                or not self.link.connected:
            return  # the stream ended during the check above, and its end decided the stop
        # The evidence as it is now: a probe may have answered during the check above.
        if self._changes.replaced(pending.evidence):
            await self._decide([replaced_by_compose(pending.evidence)])
            return
        await self._decide([after_settle(pending.evidence, self._stop_settle)])

    def _saw_stop(self, deployment: str, container_id: str, at: float) -> None:
        seen = self._stops_seen.setdefault(deployment, {})
        seen[container_id] = at
        for container, when in list(seen.items()):
            if when < at - self._stop_settle:
                del seen[container]

    def _converging(self, deployment: str,
                    stopped: str) -> Callable[[list[ContainerState]], bool]:
        """Whether Compose may still be at work in the deployment of the container
        ``stopped``: another stop in it under way or ended within a settle (its container
        may be removed already), or a container's healthcheck not passed yet."""
        def converging(others: list[ContainerState]) -> bool:
            since = self._engine_now() - self._stop_settle
            lately = [at for container, at in self._stops_seen.get(deployment, {}).items()
                      if container != stopped]
            return any(at >= since for at in lately) or any(
                self._evidence.stopping(c.id, since)
                or (c.running and c.health == "starting") for c in others)
        return converging

    async def _on_start(self, deployment: str, service: str, at: float) -> None:
        # Starts in the first moments after the daemon came up may be its own restart
        # policies bringing containers back at boot, not a person.
        if not self.link.connected or \
                at < self._to_engine(self.link.up_since) + self._start_settle:
            return
        if self._pending.drop(deployment, lambda pending: pending.service == service):
            await self._log.pending_changed(deployment, False)
        target = self._changes.started(deployment, service)
        if target is not None:
            await self._log.started(deployment, *target)

    # -- the moments that decide ------------------------------------------------------

    async def on_engine_connected(self, event: EngineConnected) -> None:
        """A (re)connection: decide the stops an earlier agent run left pending."""
        self.link = EngineLink(True, self.link.number + 1, event.up_since)
        if self._host is not None:
            self._identity = await asyncio.to_thread(daemon_identity, self._host)
        restored = self._pending.evidence(restored=True)
        if restored:
            await self._decide(at_agent_start(restored, self._identity))

    async def on_engine_lost(self, event: EngineLost) -> None:
        """The stream ended: stops before the shutdown burst are intent, those in it not."""
        self.link = replace(self.link, connected=False)
        end = self._engine_now()
        await self.probed()
        burst = self._evidence.burst(end)
        await self._decide(at_stream_end(self._pending.evidence(), burst, end))

    async def close(self) -> None:
        """Decide pending stops as the agent stops, then cancel their timers.

        With the stream connected and the daemon accepting connections, the daemon is not
        shutting down (it refuses new connections first): pending stops are intent.
        Otherwise (the agent runs in a container stopped with the rest) the burst rule.
        """
        for timer in list(self._timers):
            timer.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)
        await self.probed()
        # Stops restored from an earlier run wait for the next start, which can compare
        # the daemon's identity with the one that reported them.
        stops = self._pending.evidence(restored=False)
        if not stops:
            return
        accepts = await accepts_connections(self._host) if self._host else None
        daemon_up = bool(self.link.connected and accepts)
        await self._decide(at_agent_stop(stops, daemon_up, self._evidence.burst(None)))

    async def probed(self) -> None:
        """Wait for the connection probes in flight (each bounded by its timeout)."""
        await self._evidence.probed()

    async def _decide(self, decisions: list[Decision]) -> None:
        ignored = []
        for decision in decisions:
            stop = decision.stop
            self._pending.forget((stop.container_id, stop.stop_at))
            if decision.judgement.intent:
                target, changed, now = self._changes.stopped(stop)
                await self._log.stopped(decision, target, changed, now)
            else:
                ignored.append(decision)
        if ignored:
            states = {d.stop.deployment: self._changes.kept(d.stop.deployment)
                      for d in ignored}
            await self._log.ignored(ignored, states)
        for deployment in sorted({d.stop.deployment for d in decisions}):
            if not self.stop_pending(deployment):
                await self._log.pending_changed(deployment, False)


def _event_key(event: dict[str, Any]) -> Key:
    container_id = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
    return container_id, event_time(event)
