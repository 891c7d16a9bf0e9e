"""Recovery: reconcile deployments to their desired state, on ill-health and after restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import structlog

from stackmedic.bus import Bus
from stackmedic.deployments.actions import Action, DeploymentActions
from stackmedic.deployments.catalog import Catalog
from stackmedic.health.engine import HealthEngine
from stackmedic.health.model import HealthTransition, Verdict
from stackmedic.observe.containers import ContainerState
from stackmedic.recovery.acting import Actor, image_unavailable
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.escalate import escalate, log_lines
from stackmedic.recovery.events import RecoveryEvent
from stackmedic.recovery.evidence import Evidence
from stackmedic.recovery.evidence_gather import EvidenceCollector
from stackmedic.recovery.executor import ActionExecutor, ActionOutcome
from stackmedic.recovery.outcome import RunResult, Slot
from stackmedic.recovery.planner import Adviser, OomKills, Planner
from stackmedic.recovery.policy import Phase, RecoveryPolicy, RecoveryState, RecoveryStateStore
from stackmedic.recovery.rules import Diagnosis
from stackmedic.recovery.runs import RecoveryRuns
from stackmedic.recovery.verify import stable_period, verify_recovered
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.types import DesiredState

log = structlog.get_logger(__name__)

ILL = (Verdict.DOWN, Verdict.DEGRADED)


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._catalog = catalog
        self._desired = desired
        self._health = health
        self._events = events
        self._bus = bus
        self._actions = actions
        self._executor = executor
        self._planner = Planner(catalog, health, collector, adviser,
                                oom_window=config.budget_window_seconds, oom_kills=oom_kills,
                                clock=clock)
        self._containers = containers
        self._actor = Actor(catalog, desired, actions, executor, events,
                            wants_running=self._wants_running, stop_pending=stop_pending)
        self.runs = runs
        self._states = states
        self._stop_pending = stop_pending
        self._clock = clock
        self.policy = RecoveryPolicy(config)
        self._scheduled: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._healthy_token: dict[str, object] = {}
        self._run_locks: dict[str, asyncio.Lock] = {}
        self.reconciling = False

    def start(self) -> None:
        """Close runs a previous agent left open, then listen for health transitions."""
        left = self.runs.interrupt_leftovers()
        if left:
            log.info("recovery runs left open by the previous agent closed", runs=left)
        self._bus.subscribe(HealthTransition, self.on_health, name="recovery")

    # -- triggers ---------------------------------------------------------------------

    async def on_health(self, transition: HealthTransition) -> None:
        """Schedule a recovery when a deployment wanted running turns ill; clear on health."""
        name = transition.deployment
        if transition.verdict is Verdict.HEALTHY:
            token = object()
            self._healthy_token[name] = token
            self._spawn(self._after_healthy(name, token))
            return
        self._healthy_token.pop(name, None)
        if transition.verdict in ILL and self._wants_running(name) and not self.reconciling:
            self.schedule(name, "ill-health", self.config.settle_seconds)

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
            state = self._states.load(name)
            if state.phase != Phase.IDLE or state.attempts:
                await self._clear(state, f"{action.value} requested by a person")
        if action in (Action.STOP, Action.DOWN):
            self._cancel(name)

    async def _clear(self, state: RecoveryState, why: str) -> None:
        was_gave_up = state.phase == Phase.GAVE_UP
        self.policy.reset(state)
        self._states.save(state)
        if was_gave_up:
            await self._announce("recovery-cleared", state.deployment,
                                 f"recovery re-armed: {why}")

    def _wants_running(self, name: str) -> bool:
        record = self._desired.get(name)
        return record is not None and record.state == DesiredState.RUNNING

    # -- scheduling -------------------------------------------------------------------

    def schedule(self, name: str, trigger: str, delay: float) -> bool:
        """Run a recovery of ``name`` after ``delay`` unless one is already due."""
        if not self.config.enabled:
            return False
        existing = self._scheduled.get(name)
        if existing is not None and not existing.done():
            return False
        task = asyncio.create_task(self._after(name, trigger, delay))
        self._scheduled[name] = task
        return True

    def cancel_all(self) -> None:
        """Drop every scheduled run (a restart reconcile takes over)."""
        for name in list(self._scheduled):
            self._cancel(name)

    def _cancel(self, name: str) -> None:
        task = self._scheduled.pop(name, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _after(self, name: str, trigger: str, delay: float) -> None:
        """Wait, run once, and book the retry; the task stays registered while it runs
        so that no second run of the same deployment can start meanwhile."""
        try:
            await asyncio.sleep(delay)
            state = self._states.load(name)
            wait = self.policy.wait_before_next(state, self._clock())
            if wait is None:
                health = self._health.evaluate(name)
                if state.phase != Phase.GAVE_UP and self._wants_running(name) and \
                        health is not None and health.verdict in ILL:
                    await self._budget_spent(state)
                return
            if wait > 0:
                await asyncio.sleep(wait)
            result = await self.recover(name, trigger)
        finally:
            if self._scheduled.get(name) is asyncio.current_task():
                del self._scheduled[name]
        if result.outcome == "failed":
            state = self._states.load(name)
            retry = self.policy.wait_before_next(state, self._clock())
            if retry is not None:
                self.schedule(name, "retry", retry)
        elif result.outcome == "deferred":
            self.schedule(name, trigger, self.config.settle_seconds)

    # -- one run ----------------------------------------------------------------------

    async def diagnose(self, name: str, *, recreated_networks: set[str] | None = None
                       ) -> tuple[Evidence, Diagnosis]:
        """Gather evidence and decide what to do, without acting."""
        return await self._planner.plan(name, recreated_networks=recreated_networks)

    async def recover(self, name: str, trigger: str, *,
                      recreated_networks: set[str] | None = None,
                      act_slots: asyncio.Semaphore | None = None) -> RunResult:
        """One recovery run: diagnose, act, verify; record it and apply the limits.

        ``act_slots`` bounds how many runs diagnose and act at once; verifying is only
        waiting, so it happens outside of it.
        """
        slot = Slot(act_slots)
        opened: list[int] = []
        async with self._run_locks.setdefault(name, asyncio.Lock()):
            await slot.acquire()
            try:
                return await self._recover(name, trigger, recreated_networks or set(), slot,
                                           opened)
            except BaseException as exc:
                # A run row always ends: cancelled (agent stopping) or failed midway.
                why = "cancelled" if isinstance(exc, asyncio.CancelledError) else repr(exc)
                for run_id in opened:
                    self.runs.interrupt(run_id, why[:300])
                raise
            finally:
                slot.release()

    async def _recover(self, name: str, trigger: str, recreated: set[str],
                       slot: Slot, opened: list[int]) -> RunResult:
        deployment = self._catalog.get(name)
        if deployment is None or not self._wants_running(name):
            return RunResult(name, "skipped", message="not wanted running")
        if self._stop_pending(name):
            # A stop seen on the engine may be the user's; never undo it before it is judged.
            return RunResult(name, "deferred", message="a stop is being confirmed as intent")
        state = self._states.load(name)
        if state.phase == Phase.GAVE_UP:
            return RunResult(name, "skipped", message="gave up earlier; needs a person")
        health = self._health.evaluate(name)
        if health is not None and health.verdict not in ILL:
            return RunResult(name, "nothing-to-do", message=f"deployment is {health.verdict}")
        attempt = len(self.policy.in_window(state, self._clock())) + 1
        run_id = self.runs.begin(name, trigger, attempt)
        opened.append(run_id)
        evidence, diagnosis = await self.diagnose(name, recreated_networks=recreated)
        escalate(diagnosis, self.runs.previous(name, run_id), self._clock())
        self.runs.diagnosed(run_id, evidence.as_dict(), diagnosis.as_dict())
        if not diagnosis.suggestions:
            if diagnosis.needs_human:
                return await self._give_up(state, run_id, diagnosis, [])
            self.runs.finish(run_id, "nothing-to-do", [], diagnosis.summary)
            return RunResult(name, "nothing-to-do", diagnosis, message=diagnosis.summary,
                             run_id=run_id)
        await self._announce(
            "recovery-started", name,
            f"recovering ({trigger}, attempt {attempt}): {diagnosis.summary}",
            severity="warning",
            details={"attempt": attempt, "trigger": trigger, "source": diagnosis.source,
                     "actions": [s.describe() for s in diagnosis.suggestions]},
        )
        read = self._containers
        project = evidence.project
        timeout = self.config.verify_timeout_seconds
        stable = self.config.verify_stable_seconds
        if read is not None:  # judged on the containers as they were before acting
            stable = stable_period(read(project), {s.service for s in diagnosis.suggestions},
                                   stable, timeout)
        acted_at = self._clock()
        outcomes = await self._actor.act(name, diagnosis, evidence)
        slot.release()
        if outcomes is None:
            self.runs.finish(run_id, "cancelled", [], "desired state changed")
            return RunResult(name, "deferred", diagnosis, message="desired state changed")
        verified, problem = await verify_recovered(
            self._health, name, outcomes, timeout=timeout, stable=stable,
            containers=(lambda: read(project)) if read is not None else None,
            since=acted_at,
        )
        now = self._clock()
        self.policy.attempted(state, now, succeeded=verified)
        actions = [o.as_dict() for o in outcomes]
        if verified:
            self._states.save(state)
            self.runs.finish(run_id, "recovered", actions)
            await self._announce(
                "recovery-succeeded", name,
                f"recovered after {attempt} attempt{'s' if attempt > 1 else ''}: "
                + ", ".join(o.suggestion.describe() for o in outcomes),
                details={"attempt": attempt, "actions": actions, "source": diagnosis.source},
            )
            return RunResult(name, "recovered", diagnosis, outcomes, run_id=run_id,
                             acted_at=acted_at)
        unavailable = image_unavailable(outcomes, evidence)
        if unavailable:
            diagnosis.needs_human = unavailable
            diagnosis.summary = unavailable
            self.runs.diagnosed(run_id, evidence.as_dict(), diagnosis.as_dict())
            return await self._give_up(state, run_id, diagnosis, outcomes, acted_at)
        if self.policy.budget_spent(state, now):
            diagnosis.needs_human = (f"{attempt} attempts in "
                                     f"{self.config.budget_window_seconds:g}s did not help: "
                                     f"{problem}")
            return await self._give_up(state, run_id, diagnosis, outcomes, acted_at)
        self._states.save(state)
        self.runs.finish(run_id, "failed", actions, problem)
        await self._announce(
            "recovery-failed", name,
            f"attempt {attempt} did not recover it: {problem}; next try in "
            f"{self.policy.backoff(state.failures):g}s",
            severity="warning", details={"attempt": attempt, "actions": actions},
        )
        return RunResult(name, "failed", diagnosis, outcomes, problem, run_id, acted_at)

    async def _budget_spent(self, state: RecoveryState) -> None:
        """A deployment turned ill again with no attempt left: give up, and say so."""
        reason = (f"{len(state.attempts)} attempts in {self.config.budget_window_seconds:g}s "
                  "did not keep it up")
        self.policy.give_up(state, self._clock(), reason)
        self._states.save(state)
        await self._announce("recovery-gave-up", state.deployment,
                             f"gave up, needs a person: {reason}", severity="critical",
                             details={"clear_with": f"stackmedic start {state.deployment}"})

    async def _give_up(self, state: RecoveryState, run_id: int, diagnosis: Diagnosis,
                       outcomes: list[ActionOutcome], acted_at: float | None = None
                       ) -> RunResult:
        reason = diagnosis.needs_human or diagnosis.summary
        tail = log_lines(diagnosis)
        shown = reason if tail and tail in reason else reason + tail
        self.policy.give_up(state, self._clock(), reason)
        self._states.save(state)
        self.runs.finish(run_id, "gave-up", [o.as_dict() for o in outcomes], reason)
        self._cancel(state.deployment)
        await self._announce(
            "recovery-gave-up", state.deployment,
            f"gave up, needs a person: {shown}", severity="critical",
            details={"diagnosis": diagnosis.summary, "run_id": run_id,
                     "log_tail": diagnosis.log_tail,
                     "clear_with": f"stackmedic start {state.deployment}"},
        )
        return RunResult(state.deployment, "gave-up", diagnosis, outcomes, reason, run_id,
                         acted_at)

    # -- helpers ----------------------------------------------------------------------

    def state(self, name: str) -> dict[str, object]:
        """The recovery state of one deployment, for the API."""
        data = self._states.load(name).as_dict()
        task = self._scheduled.get(name)
        data["scheduled"] = task is not None and not task.done()
        return data

    async def _announce(self, kind: str, deployment: str | None, message: str, *,
                        severity: str = "info", details: dict[str, Any] | None = None) -> None:
        self._events.record(kind, message, deployment=deployment, severity=severity,
                            data=details)
        await self._bus.publish(RecoveryEvent(kind, deployment, message, severity,
                                              self._clock(), details or {}))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel scheduled runs and timers, and wait for them."""
        pending = [*self._scheduled.values(), *self._tasks]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._scheduled.clear()
