"""Limits on recovery: exponential backoff, an attempt budget per window, and giving up.

Every wait is measured on the monotonic clock, so a step of the wall clock (NTP setting
the time after boot on a host without a real-time clock) neither postpones recovery nor
skips a backoff. Wall times are only kept and shown: the store turns the monotonic times
into wall times as the wall clock stands when it saves or shows them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum

from stackmedic.recovery.config import RecoveryConfig
from stackmedic.store.db import Database
from stackmedic.supervise.backoff import exponential
from stackmedic.types import SYSTEM_CLOCK, Clock


class Phase(StrEnum):
    """Where a deployment's recovery stands."""

    IDLE = "idle"
    BACKOFF = "backoff"
    GAVE_UP = "gave-up"


@dataclass
class RecoveryState:
    """Attempts and backoff of one deployment.

    ``attempts`` and ``due`` are monotonic times; ``gave_up_at`` is a wall time (shown).
    """

    deployment: str
    phase: Phase = Phase.IDLE
    attempts: list[float] = field(default_factory=list)
    failures: int = 0
    due: float | None = None  # when the next attempt may run
    gave_up_at: float | None = None
    gave_up_reason: str | None = None

    def copy(self) -> RecoveryState:
        """An independent copy."""
        return replace(self, attempts=list(self.attempts))

    def as_dict(self, clock: Clock = SYSTEM_CLOCK) -> dict[str, object]:
        """JSON-ready form, with the next attempt as a wall time of ``clock``."""
        return {
            "phase": self.phase.value,
            "attempts_in_window": len(self.attempts),
            "failures": self.failures,
            "next_attempt_at": None if self.due is None else wall_time(clock, self.due),
            "gave_up_at": self.gave_up_at,
            "gave_up_reason": self.gave_up_reason,
        }


def wall_time(clock: Clock, monotonic: float) -> float:
    """The wall time of a monotonic reading, as ``clock``'s wall clock stands now."""
    return monotonic + clock.wall() - clock.monotonic()


class RecoveryPolicy:
    """Pure decisions about when the next attempt may run (times are monotonic)."""

    def __init__(self, config: RecoveryConfig) -> None:
        self.config = config

    def backoff(self, failures: int) -> float:
        """Delay after ``failures`` consecutive failed attempts."""
        return exponential(failures, self.config.backoff_initial_seconds,
                           self.config.backoff_max_seconds)

    def in_window(self, state: RecoveryState, now: float) -> list[float]:
        """Attempt times still inside the budget window."""
        start = now - self.config.budget_window_seconds
        return [t for t in state.attempts if t >= start]

    def wait_before_next(self, state: RecoveryState, now: float) -> float | None:
        """Seconds until an attempt may run; None when the budget is spent or it gave up.

        Never more than the backoff for the failures so far, even for a time kept by an
        earlier agent run across a step of the wall clock.
        """
        if state.phase == Phase.GAVE_UP:
            return None
        if len(self.in_window(state, now)) >= self.config.attempt_budget:
            return None
        if state.due is None:
            return 0.0
        return min(max(0.0, state.due - now), self.backoff(state.failures))

    def attempted(self, state: RecoveryState, now: float, *, succeeded: bool) -> None:
        """Record an attempt's outcome and set the next allowed time."""
        state.attempts = [*self.in_window(state, now), now]
        if succeeded:
            state.failures = 0
            state.phase = Phase.IDLE
            state.due = None
            return
        state.failures += 1
        state.phase = Phase.BACKOFF
        state.due = now + self.backoff(state.failures)

    def budget_spent(self, state: RecoveryState, now: float) -> bool:
        """Whether no attempt is left in the window."""
        return len(self.in_window(state, now)) >= self.config.attempt_budget

    def give_up(self, state: RecoveryState, at: float, reason: str) -> None:
        """Stop trying until a person acts or the deployment heals (``at``: a wall time)."""
        state.phase = Phase.GAVE_UP
        state.gave_up_at = at
        state.gave_up_reason = reason
        state.due = None

    def reset(self, state: RecoveryState) -> None:
        """Forget failures (after a manual start or a period of health)."""
        state.phase = Phase.IDLE
        state.attempts = []
        state.failures = 0
        state.due = None
        state.gave_up_at = None
        state.gave_up_reason = None


class RecoveryStateStore:
    """Durable recovery states, so a give-up survives an agent restart.

    The states of this agent run stay in memory with their monotonic times; the rows keep
    wall times. A row left by an earlier run is placed on the monotonic clock as the wall
    clock stands when it is first read, with no attempt in the future.
    """

    def __init__(self, db: Database, clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = db
        self.clock = clock
        self._live: dict[str, RecoveryState] = {}

    def load(self, deployment: str) -> RecoveryState:
        """The state, or a fresh idle one."""
        live = self._live.get(deployment)
        if live is None:
            live = self._live[deployment] = self._read(deployment)
        return live.copy()

    def _read(self, deployment: str) -> RecoveryState:
        row = self._db.fetchone(
            "SELECT * FROM recovery_state WHERE deployment = ?", (deployment,)
        )
        if row is None:
            return RecoveryState(deployment)
        wall, now = self.clock.wall(), self.clock.monotonic()
        due = row["next_attempt_at"]
        return RecoveryState(
            deployment=deployment,
            phase=Phase(row["phase"]),
            attempts=[now - max(0.0, wall - float(t)) for t in json.loads(row["attempts"])],
            failures=int(row["failures"]),
            due=None if due is None else now + float(due) - wall,
            gave_up_at=row["gave_up_at"],
            gave_up_reason=row["gave_up_reason"],
        )

    def save(self, state: RecoveryState) -> None:
        """Store the state."""
        self._live[state.deployment] = state.copy()
        attempts = [wall_time(self.clock, t) for t in state.attempts]
        due = None if state.due is None else wall_time(self.clock, state.due)
        self._db.execute(
            "INSERT INTO recovery_state (deployment, phase, attempts, failures,"
            " next_attempt_at, gave_up_at, gave_up_reason, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (deployment) DO UPDATE SET"
            " phase = excluded.phase, attempts = excluded.attempts,"
            " failures = excluded.failures, next_attempt_at = excluded.next_attempt_at,"
            " gave_up_at = excluded.gave_up_at, gave_up_reason = excluded.gave_up_reason,"
            " updated_at = excluded.updated_at",
            (state.deployment, state.phase.value, json.dumps(attempts), state.failures,
             due, state.gave_up_at, state.gave_up_reason, self.clock.wall()),
        )
