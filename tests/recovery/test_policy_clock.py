"""Recovery waits on the monotonic clock: a step of the wall clock (NTP setting the time
after boot on a host without a real-time clock) neither postpones recovery nor skips a
backoff, and the attempt budget's window keeps its length."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.policy import Phase, RecoveryPolicy, RecoveryStateStore
from stackmedic.store.db import Database
from support.clock import ManualClock

HOUR = 3600.0
CONFIG = RecoveryConfig(backoff_initial_seconds=10, backoff_max_seconds=300,
                        attempt_budget=3, budget_window_seconds=600)


class Rig:
    """A policy and a store over one clock, used the way a recovery run uses them."""

    def __init__(self, tmp_path: Path, config: RecoveryConfig = CONFIG) -> None:
        self.clock = ManualClock()
        self.db = Database(tmp_path / "s.db")
        self.store = RecoveryStateStore(self.db, self.clock)
        self.policy = RecoveryPolicy(config)

    def fail(self) -> None:
        """An attempt that did not recover the deployment, recorded now."""
        state = self.store.load("shop")
        self.policy.attempted(state, self.clock.monotonic(), succeeded=False)
        self.store.save(state)

    def wait(self) -> float | None:
        """What the scheduler would wait now before the next attempt."""
        return self.policy.wait_before_next(self.store.load("shop"), self.clock.monotonic())

    def shown(self) -> dict[str, object]:
        """What the API shows."""
        return self.store.load("shop").as_dict(self.clock)


@pytest.mark.parametrize("step", [-HOUR, HOUR], ids=["back", "forward"])
def test_the_next_attempt_waits_exactly_the_backoff_across_a_wall_clock_step(
    tmp_path: Path, step: float
) -> None:
    rig = Rig(tmp_path)
    rig.fail()
    rig.clock.advance(4)
    rig.clock.step(step)
    assert rig.wait() == 6
    assert rig.shown()["next_attempt_at"] == rig.clock.wall() + 6  # in the wall time shown now
    rig.clock.advance(6)
    assert rig.wait() == 0

    rig.fail()  # the second failure: twice the wait, again whatever the wall clock does
    rig.clock.step(step)
    assert rig.wait() == 20
    rig.clock.advance(19.5)
    assert rig.wait() == 0.5
    rig.clock.advance(0.5)
    assert rig.wait() == 0


@pytest.mark.parametrize("step", [-HOUR, HOUR], ids=["back", "forward"])
def test_the_budget_window_keeps_its_length_across_a_wall_clock_step(
    tmp_path: Path, step: float
) -> None:
    rig = Rig(tmp_path, RecoveryConfig(backoff_initial_seconds=1, backoff_max_seconds=1,
                                       attempt_budget=2, budget_window_seconds=100))
    rig.fail()
    rig.clock.advance(1)
    rig.fail()
    rig.clock.step(step)
    rig.clock.advance(98.5)  # the first attempt is 99.5 s old: the budget is still spent
    assert rig.wait() is None
    assert rig.shown()["attempts_in_window"] == 2
    rig.clock.advance(1)  # 100.5 s: the first attempt left the window, one may run
    assert rig.wait() == 0


@pytest.mark.parametrize("step", [-HOUR, HOUR], ids=["back", "forward"])
def test_what_an_earlier_agent_run_kept_never_waits_longer_than_the_backoff(
    tmp_path: Path, step: float
) -> None:
    rig = Rig(tmp_path)
    rig.fail()
    rig.fail()  # the second failure: 20 s of backoff
    rig.clock.step(step)  # set while no agent ran (or before this one booted)
    restarted = RecoveryStateStore(rig.db, rig.clock)  # only the stored wall times
    state = restarted.load("shop")
    now = rig.clock.monotonic()
    assert state.phase is Phase.BACKOFF and state.failures == 2
    wait = rig.policy.wait_before_next(state, now)
    # Stepped back, the kept time is an hour off in the future: no more than the backoff.
    # Stepped forward, it looks long past: at once, as the agent cannot tell.
    assert wait == (20 if step < 0 else 0)
    assert all(t <= now for t in state.attempts)  # attempts "in the future" count as now
    assert len(rig.policy.in_window(state, now)) == (2 if step < 0 else 0)


def test_a_give_up_is_shown_at_the_wall_time_it_happened(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    state = rig.store.load("shop")
    at = rig.clock.wall()
    rig.policy.give_up(state, at, "no luck")
    rig.store.save(state)
    rig.clock.step(-HOUR)
    assert rig.shown()["gave_up_at"] == at
    assert RecoveryStateStore(rig.db, rig.clock).load("shop").gave_up_at == at
