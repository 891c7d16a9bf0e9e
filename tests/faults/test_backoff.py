"""The one backoff rule, shared by task restarts, the event stream, recovery and delivery."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stackmedic.notify.sender import RetryPolicy
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.policy import RecoveryPolicy
from stackmedic.supervise import exponential

seconds = st.floats(min_value=0.001, max_value=1e6, allow_nan=False, allow_infinity=False)


def test_backoff_doubles_up_to_the_ceiling() -> None:
    delays = [exponential(n, 0.5, 10) for n in range(1, 10)]
    assert delays[:6] == [0.5, 1, 2, 4, 8, 10]
    assert max(delays) == 10


def test_no_wait_before_the_first_failure_and_a_long_streak_stays_at_the_ceiling() -> None:
    assert exponential(0, 5, 60) == 0.0
    assert exponential(-3, 5, 60) == 0.0
    assert exponential(100_000, 5, 60) == 60.0  # no overflow
    assert exponential(4, 1, 1000, factor=3) == 27.0


def test_recovery_and_delivery_follow_the_same_rule() -> None:
    recovery = RecoveryPolicy(RecoveryConfig(backoff_initial_seconds=10,
                                             backoff_max_seconds=35))
    assert [recovery.backoff(n) for n in range(5)] == [0, 10, 20, 35, 35]
    delivery = RetryPolicy(initial=1, maximum=4, dead_after=60)
    assert [delivery.delay(n) for n in range(5)] == [1, 1, 2, 4, 4]
    assert delivery.delay(1, retry_after=3) == 3  # the channel asked for longer


@given(st.integers(min_value=-5, max_value=5000), seconds, seconds,
       st.floats(min_value=1, max_value=10))
def test_never_above_the_ceiling_and_never_shrinking(
    attempt: int, initial: float, maximum: float, factor: float
) -> None:
    delay = exponential(attempt, initial, maximum, factor)
    assert 0 <= delay <= maximum
    assert exponential(attempt + 1, initial, maximum, factor) >= delay
    if attempt == 1:
        assert delay == min(initial, maximum)
