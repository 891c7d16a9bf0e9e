"""Limits on recovery: exponential backoff, an attempt budget per window, and giving up."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import StrEnum

from stackmedic.recovery.config import RecoveryConfig
from stackmedic.store.db import Database


class Phase(StrEnum):
    """Where a deployment's recovery stands."""

    IDLE = "idle"
    BACKOFF = "backoff"
    GAVE_UP = "gave-up"


@dataclass
class RecoveryState:
    """Attempts and backoff of one deployment."""

    deployment: str
    phase: Phase = Phase.IDLE
    attempts: list[float] = field(default_factory=list)
    failures: int = 0
    next_attempt_at: float | None = None
    gave_up_at: float | None = None
    gave_up_reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "phase": self.phase.value,
            "attempts_in_window": len(self.attempts),
            "failures": self.failures,
            "next_attempt_at": self.next_attempt_at,
            "gave_up_at": self.gave_up_at,
            "gave_up_reason": self.gave_up_reason,
        }


class RecoveryPolicy:
    """Pure decisions about when the next attempt may run."""

    def __init__(self, config: RecoveryConfig) -> None:
        self.config = config

    def backoff(self, failures: int) -> float:
        """Delay after ``failures`` consecutive failed attempts."""
        if failures <= 0:
            return 0.0
        delay = self.config.backoff_initial_seconds * 2 ** (failures - 1)
        return float(min(delay, self.config.backoff_max_seconds))

    def in_window(self, state: RecoveryState, now: float) -> list[float]:
        """Attempt times still inside the budget window."""
        start = now - self.config.budget_window_seconds
        return [t for t in state.attempts if t >= start]

    def wait_before_next(self, state: RecoveryState, now: float) -> float | None:
        """Seconds until an attempt may run; None when the budget is spent or it gave up."""
        if state.phase == Phase.GAVE_UP:
            return None
        if len(self.in_window(state, now)) >= self.config.attempt_budget:
            return None
        if state.next_attempt_at is None:
            return 0.0
        return max(0.0, state.next_attempt_at - now)

    def attempted(self, state: RecoveryState, now: float, *, succeeded: bool) -> None:
        """Record an attempt's outcome and set the next allowed time."""
        state.attempts = [*self.in_window(state, now), now]
        if succeeded:
            state.failures = 0
            state.phase = Phase.IDLE
            state.next_attempt_at = None
            return
        state.failures += 1
        state.phase = Phase.BACKOFF
        state.next_attempt_at = now + self.backoff(state.failures)

    def budget_spent(self, state: RecoveryState, now: float) -> bool:
        """Whether no attempt is left in the window."""
        return len(self.in_window(state, now)) >= self.config.attempt_budget

    def give_up(self, state: RecoveryState, now: float, reason: str) -> None:
        """Stop trying until a person acts or the deployment heals."""
        state.phase = Phase.GAVE_UP
        state.gave_up_at = now
        state.gave_up_reason = reason
        state.next_attempt_at = None

    def reset(self, state: RecoveryState) -> None:
        """Forget failures (after a manual start or a period of health)."""
        state.phase = Phase.IDLE
        state.attempts = []
        state.failures = 0
        state.next_attempt_at = None
        state.gave_up_at = None
        state.gave_up_reason = None


class RecoveryStateStore:
    """Durable recovery states, so a give-up survives an agent restart."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def load(self, deployment: str) -> RecoveryState:
        """The stored state, or a fresh idle one."""
        row = self._db.fetchone(
            "SELECT * FROM recovery_state WHERE deployment = ?", (deployment,)
        )
        if row is None:
            return RecoveryState(deployment)
        return RecoveryState(
            deployment=deployment,
            phase=Phase(row["phase"]),
            attempts=[float(t) for t in json.loads(row["attempts"])],
            failures=int(row["failures"]),
            next_attempt_at=row["next_attempt_at"],
            gave_up_at=row["gave_up_at"],
            gave_up_reason=row["gave_up_reason"],
        )

    def save(self, state: RecoveryState) -> None:
        """Store the state."""
        self._db.execute(
            "INSERT INTO recovery_state (deployment, phase, attempts, failures,"
            " next_attempt_at, gave_up_at, gave_up_reason, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (deployment) DO UPDATE SET"
            " phase = excluded.phase, attempts = excluded.attempts,"
            " failures = excluded.failures, next_attempt_at = excluded.next_attempt_at,"
            " gave_up_at = excluded.gave_up_at, gave_up_reason = excluded.gave_up_reason,"
            " updated_at = excluded.updated_at",
            (state.deployment, state.phase.value, json.dumps(state.attempts), state.failures,
             state.next_attempt_at, state.gave_up_at, state.gave_up_reason, time.time()),
        )
