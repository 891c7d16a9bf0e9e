"""The recovery limits as a state machine: attempts only when allowed, backoff within bounds,
a give-up that holds until cleared, and a budget that is never exceeded."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.policy import Phase, RecoveryPolicy, RecoveryState

CONFIG = RecoveryConfig(backoff_initial_seconds=10, backoff_max_seconds=60, attempt_budget=4,
                        budget_window_seconds=600)


class PolicyMachine(RuleBasedStateMachine):
    """Drives ``RecoveryPolicy`` the way the recovery service does."""

    def __init__(self) -> None:
        super().__init__()
        self.policy = RecoveryPolicy(CONFIG)
        self.state = RecoveryState("shop")
        self.now = 1000.0
        self.streak = 0  # failures since the last success or reset, as the model counts them
        self.given_up = False

    @rule(seconds=st.floats(min_value=0, max_value=400))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @precondition(lambda self: not self.given_up)
    @rule(succeeded=st.booleans())
    def attempt_when_allowed(self, succeeded: bool) -> None:
        wait = self.policy.wait_before_next(self.state, self.now)
        if wait is None:
            # The service gives up when a run is due and no attempt is left.
            assert self.policy.budget_spent(self.state, self.now)
            self.policy.give_up(self.state, self.now, "budget spent")
            self.given_up = True
            return
        self.now += wait
        self.policy.attempted(self.state, self.now, succeeded=succeeded)
        self.streak = 0 if succeeded else self.streak + 1

    @rule()
    def person_starts_it(self) -> None:
        self.policy.reset(self.state)
        self.streak = 0
        self.given_up = False

    @invariant()
    def budget_is_never_exceeded(self) -> None:
        assert len(self.policy.in_window(self.state, self.now)) <= CONFIG.attempt_budget

    @invariant()
    def give_up_holds_until_cleared(self) -> None:
        assert (self.state.phase == Phase.GAVE_UP) == self.given_up
        if self.given_up:
            assert self.policy.wait_before_next(self.state, self.now) is None

    @invariant()
    def backoff_follows_the_failures_within_bounds(self) -> None:
        assert self.state.failures == self.streak
        delay = self.policy.backoff(self.state.failures)
        assert 0 <= delay <= CONFIG.backoff_max_seconds
        if self.state.phase == Phase.BACKOFF:
            assert self.state.next_attempt_at is not None
            wait = self.policy.wait_before_next(self.state, self.now)
            assert wait is None or wait <= delay


PolicyMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40,
                                           derandomize=True, deadline=None, database=None)
TestPolicy = PolicyMachine.TestCase
