"""When recovery runs happen: one due run per deployment, retries after the backoff.

Every due run is a one-shot task of the agent's supervisor, named ``recovery:NAME``: a run
that raises is logged with its traceback there, is tried again after the backoff, and is
reported by ``problems()`` (read by the ``recovery`` heartbeat, hence ``/healthz``) until a
later run of the same deployment ends normally. A run past its deadline is reported the
same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from stackmedic.health.engine import HealthEngine
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.outcome import RunResult
from stackmedic.recovery.policy import Phase, RecoveryPolicy, RecoveryState, RecoveryStateStore
from stackmedic.recovery.recover import ILL
from stackmedic.supervise.supervisor import Supervisor
from stackmedic.types import SYSTEM_CLOCK, Clock, RunOutcome

log = structlog.get_logger(__name__)

RunFn = Callable[[str, str], Awaitable[RunResult]]
TASK_PREFIX = "recovery:"
ILL_HEALTH = "ill-health"  # the trigger of a run scheduled by an ill verdict


def task_name(deployment: str) -> str:
    """The supervisor's name for the due run of ``deployment``."""
    return TASK_PREFIX + deployment


class RecoveryScheduler:
    """Due recovery runs, one per deployment, as supervised tasks."""

    def __init__(
        self,
        config: RecoveryConfig,
        *,
        supervisor: Supervisor,
        run: RunFn,
        budget_spent: Callable[[RecoveryState], Awaitable[None]],
        wants_running: Callable[[str], bool],
        health: HealthEngine,
        states: RecoveryStateStore,
        policy: RecoveryPolicy,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.config = config
        self._supervisor = supervisor
        self._run = run
        self._budget_spent = budget_spent
        self._wants_running = wants_running
        self._health = health
        self._states = states
        self._policy = policy
        self._clock = clock
        self._due: dict[str, asyncio.Task[None]] = {}
        self._next: dict[str, tuple[str, float]] = {}  # what to schedule once a task ended
        self._errors: dict[str, int] = {}  # consecutive runs that raised, per deployment
        self._silent: dict[str, int] = {}  # consecutive runs deferred for a silent engine
        self._failing: dict[str, str] = {}  # deployment -> why its last run went wrong

    def schedule(self, name: str, trigger: str, delay: float) -> bool:
        """Run a recovery of ``name`` after ``delay`` unless one is already due."""
        if not self.config.enabled:
            return False
        existing = self._due.get(name)
        if existing is not None and not existing.done():
            return False
        if self._supervisor.running(task_name(name)):
            # A cancelled run is still unwinding: start this one as soon as it has ended.
            self._next[name] = (trigger, delay)
            return True
        task = self._supervisor.spawn(
            task_name(name), lambda: self._pursue(name, trigger, delay), restart=False)
        if task is None:
            return False  # the agent is stopping
        self._due[name] = task
        task.add_done_callback(lambda done: self._ended(name, done))
        return True

    def scheduled(self, name: str) -> bool:
        """Whether a run of ``name`` is due or running."""
        task = self._due.get(name)
        return task is not None and not task.done()

    def settled(self, result: RunResult) -> None:
        """A run ended without raising (whoever started it): report it if it timed out."""
        name = result.deployment
        if result.outcome == RunOutcome.TIMED_OUT:
            self._failing[name] = f"recovery of {name} timed out: {result.message}"
        else:
            self._failing.pop(name, None)

    def cancel(self, name: str, *, person: bool = False) -> None:
        """Drop the due run of ``name`` (unless it is the caller); a ``person`` taking over
        also ends what was reported about its earlier runs."""
        if person:
            self._failing.pop(name, None)
            self._errors.pop(name, None)
        task = self._due.get(name)
        if task is not None and task is not asyncio.current_task():
            self._due.pop(name, None)
            self._next.pop(name, None)
            task.cancel()

    def cancel_all(self) -> None:
        """Drop every due run (a restart reconcile takes over)."""
        for name in list(self._due):
            self.cancel(name)

    def problems(self) -> list[str]:
        """A sentence per deployment whose last recovery run raised or timed out."""
        return [self._failing[name] for name in sorted(self._failing)]

    async def _pursue(self, name: str, trigger: str, delay: float) -> None:
        """Wait, run once, and book what follows; the task stays registered while it runs
        so that no second run of the same deployment can start meanwhile."""
        await asyncio.sleep(delay)
        if trigger == ILL_HEALTH:  # act on sustained ill-health only, not on a flap's spell
            health = self._health.evaluate(name)
            if health is None or health.verdict not in ILL:
                return  # no longer ill: its next ill verdict schedules a run again
            later = self._health.sustained_in(name, self.config.settle_seconds)
            if later > 0:
                self._next[name] = (trigger, later)
                return
        state = self._states.load(name)
        wait = self._policy.wait_before_next(state, self._clock.monotonic())
        if wait is None:
            health = self._health.evaluate(name)
            if state.phase != Phase.GAVE_UP and self._wants_running(name) and \
                    health is not None and health.verdict in ILL:
                await self._budget_spent(state)
            return
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            result = await self._run(name, trigger)
        except Exception as exc:
            errors = self._errors[name] = self._errors.get(name, 0) + 1
            retry = self._policy.backoff(errors)
            self._failing[name] = (f"recovery of {name} failed: {type(exc).__name__}: {exc}; "
                                   f"next try in {retry:g}s")
            self._next[name] = ("retry", retry)
            raise  # the supervisor logs it with its traceback
        self._errors.pop(name, None)
        silent = self._silent.pop(name, 0) + 1  # a run that reached the engine ends a streak
        if result.engine_silent:  # the engine stopped answering: wait longer while it does not
            self._silent[name] = silent
            self._next[name] = ("retry", self._policy.backoff(silent))
        elif result.outcome in (RunOutcome.FAILED, RunOutcome.TIMED_OUT):
            after = self._policy.wait_before_next(self._states.load(name),
                                                 self._clock.monotonic())
            if after is not None:  # never sooner than the first backoff step
                self._next[name] = ("retry", max(after, self._policy.backoff(1)))
        elif result.outcome == RunOutcome.DEFERRED:
            self._next[name] = (trigger, self.config.settle_seconds)

    def _ended(self, name: str, task: asyncio.Task[None]) -> None:
        """A due run ended: forget it, then schedule what it booked (a retry, a deferral)."""
        if self._due.get(name) is task:
            del self._due[name]
        follow = self._next.pop(name, None)  # cancel() drops what a cancelled run booked
        if follow is not None:
            self.schedule(name, *follow)

    async def close(self) -> None:
        """Cancel due runs and wait for them."""
        pending = list(self._due.values())
        self._next.clear()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._due.clear()
