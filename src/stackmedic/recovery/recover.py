"""One recovery run: diagnose, act, verify; recorded, within limits, bounded by a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stackmedic.bus import Bus
from stackmedic.deployments.catalog import Catalog
from stackmedic.health.engine import HealthEngine
from stackmedic.health.model import Verdict
from stackmedic.observe.containers import ContainerState
from stackmedic.recovery.acting import Actor, image_unavailable
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.escalate import escalate, log_lines
from stackmedic.recovery.events import RecoveryEvent
from stackmedic.recovery.evidence import Evidence
from stackmedic.recovery.executor import ActionOutcome
from stackmedic.recovery.outcome import RunResult, Slot
from stackmedic.recovery.planner import Planner
from stackmedic.recovery.policy import Phase, RecoveryPolicy, RecoveryState, RecoveryStateStore
from stackmedic.recovery.rules import Diagnosis
from stackmedic.recovery.runs import RecoveryRuns
from stackmedic.recovery.verify import stable_period, verify_recovered
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.types import SYSTEM_CLOCK, Clock, DesiredState, EventKind, RunOutcome, Severity

ILL = (Verdict.DOWN, Verdict.DEGRADED)


@dataclass
class _Opened:
    """The run row one ``recover`` call opened, if it got that far."""

    run_id: int | None = None
    attempt: int = 0
    actions: list[ActionOutcome] = field(default_factory=list)  # done so far


class Recoverer:
    """Runs recoveries, one at a time per deployment, each within ``run_timeout_seconds``."""

    def __init__(
        self,
        config: RecoveryConfig,
        *,
        catalog: Catalog,
        desired: DesiredStateStore,
        health: HealthEngine,
        events: EventLog,
        bus: Bus,
        runs: RecoveryRuns,
        states: RecoveryStateStore,
        policy: RecoveryPolicy,
        planner: Planner,
        actor: Actor,
        stop_pending: Callable[[str], bool],
        containers: Callable[[str], list[ContainerState]] | None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.config = config
        self._catalog = catalog
        self._desired = desired
        self._health = health
        self._events = events
        self._bus = bus
        self.runs = runs
        self._states = states
        self.policy = policy
        self.planner = planner
        self._actor = actor
        self._stop_pending = stop_pending
        self._containers = containers
        self._clock = clock
        self._run_locks: dict[str, asyncio.Lock] = {}
        # When the Docker daemon last started (wall time): a run that ended before then
        # is from before a host or daemon restart, which gives every deployment a fresh start.
        self.daemon_started: float | None = None
        # Deployments a restart re-armed after a give-up: they get one fresh attempt.
        self.rearmed: set[str] = set()

    def wants_running(self, name: str) -> bool:
        """Whether ``name``'s desired state is running."""
        record = self._desired.get(name)
        return record is not None and record.state == DesiredState.RUNNING

    async def recover(self, name: str, trigger: str, *,
                      recreated_networks: set[str] | None = None,
                      act_slots: asyncio.Semaphore | None = None,
                      acted: asyncio.Event | None = None) -> RunResult:
        """One recovery run: diagnose, act, verify; record it and apply the limits.

        ``act_slots`` bounds how many runs diagnose and act at once; verifying is only
        waiting, so it happens outside of it; ``acted`` is set once the run has acted (or
        ended without). A run past its deadline ends ``timed-out`` and counts as a failed
        attempt; the lock and the slot are given back either way.
        """
        slot = Slot(act_slots, acted)
        opened = _Opened()
        async with self._run_locks.setdefault(name, asyncio.Lock()):
            await slot.acquire()
            try:
                deadline = asyncio.timeout(self.config.run_timeout_seconds)
                try:
                    async with deadline:
                        return await self._recover(name, trigger, recreated_networks or set(),
                                                   slot, opened)
                except TimeoutError:
                    if not deadline.expired():
                        raise  # a deadline of some call inside, not the run's
                return await self._timed_out(name, opened)
            except BaseException as exc:
                # A run row always ends: cancelled (agent stopping) or failed midway.
                why = "cancelled" if isinstance(exc, asyncio.CancelledError) else repr(exc)
                if opened.run_id is not None:
                    self.runs.interrupt(opened.run_id, why[:300])
                raise
            finally:
                slot.release()

    async def _timed_out(self, name: str, opened: _Opened) -> RunResult:
        limit = self.config.run_timeout_seconds
        message = f"the run did not end within {limit:g}s"
        if opened.run_id is None or not self.runs.end(opened.run_id, RunOutcome.TIMED_OUT, message):
            return RunResult(name, RunOutcome.TIMED_OUT, message=message, run_id=opened.run_id)
        state = self._states.load(name)
        self.policy.attempted(state, self._clock.monotonic(), succeeded=False)
        self._states.save(state)
        await self.announce(
            EventKind.RECOVERY_FAILED, name,
            f"attempt {opened.attempt} timed out after {limit:g}s; next try in "
            f"{self.policy.backoff(state.failures):g}s",
            severity=Severity.WARNING, details={"attempt": opened.attempt, "timed_out": True},
        )
        return RunResult(name, RunOutcome.TIMED_OUT, message=message, run_id=opened.run_id)

    async def _recover(self, name: str, trigger: str, recreated: set[str],
                       slot: Slot, opened: _Opened) -> RunResult:
        deployment = self._catalog.get(name)
        if deployment is None or not self.wants_running(name):
            return RunResult(name, RunOutcome.SKIPPED, message="not wanted running")
        if self._stop_pending(name):
            # A stop seen on the engine may be the user's; never undo it before it is judged.
            return RunResult(name, RunOutcome.DEFERRED,
                             message="a stop is being confirmed as intent")
        state = self._states.load(name)
        if state.phase == Phase.GAVE_UP:
            return RunResult(name, RunOutcome.SKIPPED, message="gave up earlier; needs a person")
        health = self._health.evaluate(name)
        if health is not None and health.verdict not in ILL:
            return RunResult(name, RunOutcome.NOTHING_TO_DO,
                             message=f"deployment is {health.verdict}")
        attempt = len(self.policy.in_window(state, self._clock.monotonic())) + 1
        run_id = self.runs.begin(name, trigger, attempt)
        opened.run_id, opened.attempt = run_id, attempt
        evidence, diagnosis = await self.planner.plan(name, recreated_networks=recreated)
        escalate(diagnosis, self.runs.previous(name, run_id), self._clock.wall(),
                 daemon_started=self.daemon_started)
        self.runs.diagnosed(run_id, evidence.as_dict(), diagnosis.as_dict())
        if not diagnosis.suggestions:
            if diagnosis.needs_human:
                return await self._give_up(state, run_id, diagnosis, [])
            self.runs.finish(run_id, RunOutcome.NOTHING_TO_DO, [], diagnosis.summary)
            return RunResult(name, RunOutcome.NOTHING_TO_DO, diagnosis, message=diagnosis.summary,
                             run_id=run_id)
        await self.announce(
            EventKind.RECOVERY_STARTED, name,
            f"recovering ({trigger}, attempt {attempt}): {diagnosis.summary}",
            severity=Severity.WARNING,
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
        acted_at = self._clock.wall()

        def done(outcome: ActionOutcome) -> None:
            opened.actions.append(outcome)
            self.runs.progress(run_id, [o.as_dict() for o in opened.actions])

        outcomes = await self._actor.act(name, diagnosis, evidence, done)
        slot.release()
        if outcomes is None:
            self.runs.finish(run_id, RunOutcome.CANCELLED, [], "desired state changed")
            return RunResult(name, RunOutcome.DEFERRED, diagnosis, message="desired state changed")
        verified, problem = await verify_recovered(
            self._health, name, outcomes, timeout=timeout, stable=stable,
            containers=(lambda: read(project)) if read is not None else None,
            since=acted_at,
        )
        return await self._judge(state, run_id, attempt, diagnosis, evidence, outcomes,
                                 verified, problem, acted_at)

    async def _judge(self, state: RecoveryState, run_id: int, attempt: int,
                     diagnosis: Diagnosis, evidence: Evidence, outcomes: list[ActionOutcome],
                     verified: bool, problem: str, acted_at: float) -> RunResult:
        """Record what the verification found, and what comes next."""
        name = state.deployment
        silent = next((o.engine_silent for o in outcomes if o.engine_silent), None)
        if not verified and silent is None and self.daemon_started is not None \
                and self.daemon_started > acted_at:
            silent = "the Docker daemon restarted during the run"
        if not verified and silent is not None:
            return await self._engine_silent(name, run_id, attempt, outcomes, silent, acted_at)
        fresh = name in self.rearmed
        self.rearmed.discard(name)
        now = self._clock.monotonic()
        self.policy.attempted(state, now, succeeded=verified)
        actions = [o.as_dict() for o in outcomes]
        if verified:
            self._states.save(state)
            self.runs.finish(run_id, RunOutcome.RECOVERED, actions)
            await self.announce(
                EventKind.RECOVERY_SUCCEEDED, name,
                f"recovered after {attempt} attempt{'s' if attempt > 1 else ''}: "
                + ", ".join(o.suggestion.describe() for o in outcomes),
                details={"attempt": attempt, "actions": actions, "source": diagnosis.source},
            )
            return RunResult(name, RunOutcome.RECOVERED, diagnosis, outcomes, run_id=run_id,
                             acted_at=acted_at)
        unavailable = image_unavailable(outcomes, evidence)
        if unavailable:
            diagnosis.needs_human = unavailable
            diagnosis.summary = unavailable
            self.runs.diagnosed(run_id, evidence.as_dict(), diagnosis.as_dict())
            return await self._give_up(state, run_id, diagnosis, outcomes, acted_at)
        if fresh:
            diagnosis.needs_human = ("the one fresh attempt after the restart did not help "
                                     f"either: {problem}")
            return await self._give_up(state, run_id, diagnosis, outcomes, acted_at)
        if self.policy.budget_spent(state, now):
            diagnosis.needs_human = (f"{attempt} attempts in "
                                     f"{self.config.budget_window_seconds:g}s did not help: "
                                     f"{problem}")
            return await self._give_up(state, run_id, diagnosis, outcomes, acted_at)
        self._states.save(state)
        self.runs.finish(run_id, RunOutcome.FAILED, actions, problem)
        await self.announce(
            EventKind.RECOVERY_FAILED, name,
            f"attempt {attempt} did not recover it: {problem}; next try in "
            f"{self.policy.backoff(state.failures):g}s",
            severity=Severity.WARNING, details={"attempt": attempt, "actions": actions},
        )
        return RunResult(name, RunOutcome.FAILED, diagnosis, outcomes, problem, run_id, acted_at)

    async def _engine_silent(self, name: str, run_id: int, attempt: int,
                             outcomes: list[ActionOutcome], why: str,
                             acted_at: float) -> RunResult:
        """The engine stopped answering while we acted: the deployment is not to blame, so
        the run is deferred, counts against no budget and escalates nothing."""
        message = (f"Docker stopped answering ({why}); not counted as an attempt, "
                   "tried again once it answers")
        self.runs.finish(run_id, RunOutcome.DEFERRED, [o.as_dict() for o in outcomes], message)
        await self.announce(
            EventKind.RECOVERY_FAILED, name, f"attempt {attempt} could not finish: {message}",
            severity=Severity.WARNING, details={"attempt": attempt, "engine_silent": why},
        )
        return RunResult(name, RunOutcome.DEFERRED, None, outcomes, message, run_id, acted_at,
                         engine_silent=True)

    async def budget_spent(self, state: RecoveryState) -> None:
        """A deployment turned ill again with no attempt left: give up, and say so."""
        reason = (f"{len(state.attempts)} attempts in {self.config.budget_window_seconds:g}s "
                  "did not keep it up")
        self.policy.give_up(state, self._clock.wall(), reason)
        self._states.save(state)
        await self.announce(EventKind.RECOVERY_GAVE_UP, state.deployment,
                            f"gave up, needs a person: {reason}", severity=Severity.CRITICAL,
                            details={"clear_with": f"stackmedic start {state.deployment}"})

    async def _give_up(self, state: RecoveryState, run_id: int, diagnosis: Diagnosis,
                       outcomes: list[ActionOutcome], acted_at: float | None = None
                       ) -> RunResult:
        reason = diagnosis.needs_human or diagnosis.summary
        tail = log_lines(diagnosis)
        shown = reason if tail and tail in reason else reason + tail
        self.policy.give_up(state, self._clock.wall(), reason)
        self._states.save(state)
        self.runs.finish(run_id, RunOutcome.GAVE_UP, [o.as_dict() for o in outcomes], reason)
        await self.announce(
            EventKind.RECOVERY_GAVE_UP, state.deployment,
            f"gave up, needs a person: {shown}", severity=Severity.CRITICAL,
            details={"diagnosis": diagnosis.summary, "run_id": run_id,
                     "log_tail": diagnosis.log_tail,
                     "clear_with": f"stackmedic start {state.deployment}"},
        )
        return RunResult(state.deployment, RunOutcome.GAVE_UP, diagnosis, outcomes, reason, run_id,
                         acted_at)

    async def announce(self, kind: EventKind, deployment: str | None, message: str, *,
                       severity: Severity = Severity.INFO,
                       details: dict[str, Any] | None = None) -> None:
        """Write a recovery event to the event log and publish it on the bus."""
        self._events.record(kind, message, deployment=deployment, severity=severity,
                            data=details)
        await self._bus.publish(RecoveryEvent(kind, deployment, message, severity,
                                              self._clock.wall(), details or {}))
