"""Recovery: reconcile deployments to their desired state, on ill-health and after restarts.

``RecoveryService`` wires the parts and reacts to triggers (health transitions, a person's
actions); ``Recoverer`` (``recover.py``) carries out one run, ``RecoveryScheduler``
(``scheduler.py``) decides when runs happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from stackmedic.bus import Bus
from stackmedic.deployments.actions import Action, DeploymentActions
from stackmedic.deployments.catalog import Catalog
from stackmedic.deployments.events import ActionRequested
from stackmedic.health.engine import HealthEngine
from stackmedic.health.model import HealthTransition, Verdict
from stackmedic.observe.containers import ContainerState
from stackmedic.observe.events import EngineReached
from stackmedic.recovery.acting import Actor
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.events import RestartReconcileFinished, RestartReconcileStarted
from stackmedic.recovery.evidence import Evidence
from stackmedic.recovery.evidence_gather import EvidenceCollector
from stackmedic.recovery.executor import ActionExecutor
from stackmedic.recovery.outcome import RunResult
from stackmedic.recovery.planner import Adviser, OomKills, Planner
from stackmedic.recovery.policy import Phase, RecoveryPolicy, RecoveryState, RecoveryStateStore
from stackmedic.recovery.recover import ILL, Recoverer
from stackmedic.recovery.rules import Diagnosis
from stackmedic.recovery.runs import RecoveryRuns
from stackmedic.recovery.scheduler import RecoveryScheduler
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.supervise.supervisor import Supervisor
from stackmedic.types import SYSTEM_CLOCK, Clock, EventKind, RunOutcome

__all__ = ["ILL", "RecoveryService"]

log = structlog.get_logger(__name__)


class RecoveryService:
    """Plans and runs recoveries with one run at a time per deployment, within limits."""

    def __init__(
        self,
        config: RecoveryConfig,
        *,
        catalog: Catalog,
        desired: DesiredStateStore,
        health: HealthEngine,
        events: EventLog,
        bus: Bus,
        actions: DeploymentActions,
        executor: ActionExecutor,
        collector: EvidenceCollector,
        runs: RecoveryRuns,
        states: RecoveryStateStore,
        adviser: Adviser | None = None,
        stop_pending: Callable[[str], bool] = lambda name: False,
        containers: Callable[[str], list[ContainerState]] | None = None,
        oom_kills: OomKills | None = None,
        supervisor: Supervisor | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.config = config
        self._bus = bus
        self._states = states
        self.runs = runs
        self.policy = RecoveryPolicy(config)
        planner = Planner(catalog, health, collector, adviser,
                          oom_window=config.budget_window_seconds, oom_kills=oom_kills,
                          clock=clock)
        self._recoverer = Recoverer(
            config, catalog=catalog, desired=desired, health=health, events=events, bus=bus,
            runs=runs, states=states, policy=self.policy, planner=planner,
            actor=Actor(catalog, desired, actions, executor, events,
                        wants_running=self._wants_running, stop_pending=stop_pending),
            stop_pending=stop_pending, containers=containers, clock=clock,
        )
        self._scheduler = RecoveryScheduler(
            config, supervisor=supervisor or Supervisor(), run=self._scheduled_run,
            budget_spent=self._recoverer.budget_spent, wants_running=self._wants_running,
            health=health, states=states, policy=self.policy, clock=clock,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._healthy_token: dict[str, object] = {}
        self._reconciling = False
        self._cut_short: dict[str, dict[str, Any]] = {}

    @property
    def reconciling(self) -> bool:
        """Whether a restart reconcile owns every deployment (from its detection to its end)."""
        return self._reconciling

    def start(self) -> None:
        """Close runs a previous agent left open, then listen for what triggers a run."""
        left = self.runs.interrupt_leftovers()
        if left:
            log.info("recovery runs left open by the previous agent closed", runs=len(left))
        # Runs cut short after acting: if their deployment is found healthy, say who did it.
        self._cut_short = {r["deployment"]: r for r in left
                           if any(a.get("ok") for a in r["actions"])}
        subscribe = self._bus.subscribe
        subscribe(HealthTransition, self.on_health, name="recovery")
        subscribe(ActionRequested, self._on_action_requested, name="recovery-requests")
        subscribe(RestartReconcileStarted, self._on_reconcile_started, name="recovery")
        subscribe(RestartReconcileFinished, self._on_reconcile_finished, name="recovery")

    # -- triggers ---------------------------------------------------------------------

    async def on_engine_reached(self, event: EngineReached) -> None:
        """After a host or daemon restart the reconcile owns every deployment: no piecemeal
        runs from what the resync finds, and none left due from before. Every connection
        tells when the daemon started: runs that ended before then are not compared with
        the next (``escalate``)."""
        if event.daemon_started_at is not None:
            self._recoverer.daemon_started = event.daemon_started_at
        elif event.restarted:
            self._recoverer.daemon_started = event.at
        if event.restarted:
            self._reconciling = True
            self._cut_short.clear()  # the shutdown stopped what those runs had started
            self.cancel_all()

    async def _on_reconcile_started(self, event: RestartReconcileStarted) -> None:
        self._reconciling = True

    async def _on_reconcile_finished(self, event: RestartReconcileFinished) -> None:
        self._reconciling = False

    async def _on_action_requested(self, event: ActionRequested) -> None:
        await self.on_action(event.deployment, Action(event.action))

    async def on_health(self, transition: HealthTransition) -> None:
        """Schedule a recovery when a deployment wanted running turns ill; clear on health."""
        name = transition.deployment
        if transition.verdict is Verdict.HEALTHY and name in self._cut_short:
            await self._recovered_by_cut_short_run(self._cut_short.pop(name))
        if transition.verdict is Verdict.HEALTHY:
            self._recoverer.rearmed.discard(name)
            token = object()
            self._healthy_token[name] = token
            self._spawn(self._after_healthy(name, token))
            return
        self._healthy_token.pop(name, None)
        if transition.verdict in ILL and self._wants_running(name) and not self._reconciling:
            self.schedule(name, "ill-health", self.config.settle_seconds)

    async def _recovered_by_cut_short_run(self, run: dict[str, Any]) -> None:
        """A run the previous agent's stop cut short had acted, and its deployment is
        healthy now: the resolution says stackmedic's action brought it back."""
        done = [f"{a.get('action')} {a.get('service')}" for a in run["actions"] if a.get("ok")]
        await self._recoverer.announce(
            EventKind.RECOVERY_SUCCEEDED, run["deployment"],
            f"recovered: {', '.join(done)} (run {run['id']} was cut short when the agent "
            "stopped; the deployment was healthy when it started again)",
            details={"actions": done, "run_id": run["id"], "cut_short": True},
        )

    async def _after_healthy(self, name: str, token: object) -> None:
        """Once healthy long enough: re-arm a give-up, later forget past attempts."""
        clear_after = self.config.gave_up_clear_healthy_seconds
        await asyncio.sleep(clear_after)
        if self._healthy_token.get(name) is not token:
            return
        state = self._states.load(name)
        if state.phase == Phase.GAVE_UP:
            await self._clear(state, "healthy again on its own")
            return
        await asyncio.sleep(max(0.0, self.config.reset_after_healthy_seconds - clear_after))
        if self._healthy_token.get(name) is token:
            state = self._states.load(name)
            if state.attempts and state.phase != Phase.GAVE_UP:
                self.policy.reset(state)
                self._states.save(state)

    async def on_action(self, name: str, action: Action) -> None:
        """A person started or restarted the deployment: forget a give-up and past failures."""
        if action in (Action.START, Action.RESTART):
            self._recoverer.rearmed.discard(name)
            state = self._states.load(name)
            if state.phase != Phase.IDLE or state.attempts:
                await self._clear(state, f"{action.value} requested by a person")
        if action in (Action.STOP, Action.DOWN):
            self._scheduler.cancel(name, person=True)

    # behaviour: reboot-after-give-up
    async def rearm_after_restart(self, names: Iterable[str], why: str) -> list[str]:
        """A host or daemon restart: forget each deployment's attempts, backoff and give-up,
        which were about the deployment as it was; return those that had given up. Each of
        those gets one fresh attempt: if it is not verified, recovery gives up again."""
        rearmed = []
        for name in sorted(names):
            state = self._states.load(name)
            if state.phase == Phase.GAVE_UP:
                rearmed.append(name)
            if state.phase != Phase.IDLE or state.attempts or state.failures:
                await self._clear(state, why)
        self._recoverer.rearmed = set(rearmed)
        return rearmed

    async def _clear(self, state: RecoveryState, why: str) -> None:
        was_gave_up = state.phase == Phase.GAVE_UP
        self.policy.reset(state)
        self._states.save(state)
        if was_gave_up:
            await self._recoverer.announce(EventKind.RECOVERY_CLEARED, state.deployment,
                                           f"recovery re-armed: {why}")

    def _wants_running(self, name: str) -> bool:
        return self._recoverer.wants_running(name)

    # -- scheduling -------------------------------------------------------------------

    def schedule(self, name: str, trigger: str, delay: float) -> bool:
        """Run a recovery of ``name`` after ``delay`` unless one is already due."""
        return self._scheduler.schedule(name, trigger, delay)

    def cancel_all(self) -> None:
        """Drop every scheduled run (a restart reconcile takes over)."""
        self._scheduler.cancel_all()

    def problems(self) -> list[str]:
        """A sentence per deployment whose last recovery run raised or timed out."""
        return self._scheduler.problems()

    async def _scheduled_run(self, name: str, trigger: str) -> RunResult:
        return await self.recover(name, trigger)

    # -- one run ----------------------------------------------------------------------

    async def diagnose(self, name: str, *, recreated_networks: set[str] | None = None
                       ) -> tuple[Evidence, Diagnosis]:
        """Gather evidence and decide what to do, without acting."""
        return await self._recoverer.planner.plan(name, recreated_networks=recreated_networks)

    async def recover(self, name: str, trigger: str, *,
                      recreated_networks: set[str] | None = None,
                      act_slots: asyncio.Semaphore | None = None,
                      acted: asyncio.Event | None = None) -> RunResult:
        """One recovery run (see ``Recoverer.recover``); a give-up drops any due run."""
        self._cut_short.pop(name, None)  # a new run speaks for itself
        result = await self._recoverer.recover(name, trigger,
                                               recreated_networks=recreated_networks,
                                               act_slots=act_slots, acted=acted)
        self._scheduler.settled(result)
        if result.outcome == RunOutcome.GAVE_UP:
            self._scheduler.cancel(name)
        return result

    # -- helpers ----------------------------------------------------------------------

    def state(self, name: str) -> dict[str, object]:
        """The recovery state of one deployment, for the API."""
        data = self._states.load(name).as_dict(self._states.clock)
        data["scheduled"] = self._scheduler.scheduled(name)
        return data

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel scheduled runs and timers, and wait for them."""
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._scheduler.close()
