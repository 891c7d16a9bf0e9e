"""The recovery limits as a state machine: attempts only when allowed, backoff within bounds,
a give-up that holds until cleared, and a budget that is never exceeded; the wall clock
may be set forward or back at any moment without changing a wait."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.policy import Phase, RecoveryPolicy, RecoveryState, RecoveryStateStore
from stackmedic.store.db import Database
from support.clock import ManualClock

CONFIG = RecoveryConfig(backoff_initial_seconds=10, backoff_max_seconds=60, attempt_budget=4,
                        budget_window_seconds=600)


class PolicyMachine(RuleBasedStateMachine):
    """Drives ``RecoveryPolicy`` and its store the way the recovery service does."""

    def __init__(self) -> None:
        super().__init__()
        self.policy = RecoveryPolicy(CONFIG)
        self.clock = ManualClock()
        self.db = Database(":memory:")
        self.store = RecoveryStateStore(self.db, self.clock)
        # The model, on the clock that never steps:
        self.streak = 0  # failures since the last success or reset
        self.given_up = False
        self.tried: list[float] = []  # when attempts ran
        self.due: float | None = None  # when the next may run, after a failure

    @property
    def now(self) -> float:
        return self.clock.monotonic()

    @property
    def state(self) -> RecoveryState:
        return self.store.load("shop")

    @rule(seconds=st.floats(min_value=0, max_value=400))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(seconds=st.sampled_from([-3600.0, 3600.0]) | st.floats(-86400, 86400))
    def wall_step(self, seconds: float) -> None:
        self.clock.step(seconds)

    @precondition(lambda self: not self.given_up)
    @rule(succeeded=st.booleans())
    def attempt_when_allowed(self, succeeded: bool) -> None:
        state = self.state
        wait = self.policy.wait_before_next(state, self.now)
        if wait is None:
            # The service gives up when a run is due and no attempt is left.
            assert self.policy.budget_spent(state, self.now)
            self.policy.give_up(state, self.clock.wall(), "budget spent")
            self.store.save(state)
            self.given_up = True
            return
        self.clock.advance(wait)
        self.policy.attempted(state, self.now, succeeded=succeeded)
        self.store.save(state)
        self.tried.append(self.now)
        self.streak = 0 if succeeded else self.streak + 1
        self.due = None if succeeded else self.now + self.policy.backoff(self.streak)

    @rule()
    def person_starts_it(self) -> None:
        state = self.state
        self.policy.reset(state)
        self.store.save(state)
        self.streak = 0
        self.given_up = False
        self.tried = []
        self.due = None

    def teardown(self) -> None:
        self.db.close()

    @invariant()
    def budget_is_never_exceeded(self) -> None:
        assert len(self.policy.in_window(self.state, self.now)) <= CONFIG.attempt_budget

    @invariant()
    def the_window_is_measured_on_the_clock_that_never_steps(self) -> None:
        expected = [t for t in self.tried if t >= self.now - CONFIG.budget_window_seconds]
        assert len(self.policy.in_window(self.state, self.now)) == len(expected)

    @invariant()
    def give_up_holds_until_cleared(self) -> None:
        assert (self.state.phase == Phase.GAVE_UP) == self.given_up
        if self.given_up:
            assert self.policy.wait_before_next(self.state, self.now) is None

    @invariant()
    def backoff_follows_the_failures_within_bounds(self) -> None:
        state = self.state
        assert state.failures == self.streak
        delay = self.policy.backoff(state.failures)
        assert 0 <= delay <= CONFIG.backoff_max_seconds
        wait = self.policy.wait_before_next(state, self.now)
        if state.phase == Phase.BACKOFF:
            assert state.due is not None
            assert wait is None or wait <= delay
        if wait is not None:  # exactly what is left of the backoff, whatever the wall says
            left = 0.0 if self.due is None else max(0.0, self.due - self.now)
            assert wait == pytest.approx(left)


PolicyMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40,
                                           derandomize=True, deadline=None, database=None)
TestPolicy = PolicyMachine.TestCase
