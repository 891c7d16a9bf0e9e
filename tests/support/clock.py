"""Clocks a test moves by hand, as ``stackmedic.types.Clock``."""

from __future__ import annotations

import time


class ManualClock:
    """Wall and monotonic time that move only when told; ``step`` moves the wall clock
    alone, as NTP setting the time does."""

    def __init__(self, wall: float = 1_700_000_000.0, monotonic: float = 5_000.0) -> None:
        self._wall = wall
        self._monotonic = monotonic

    def wall(self) -> float:
        """Seconds since the epoch."""
        return self._wall

    def monotonic(self) -> float:
        """Seconds on the clock that never steps."""
        return self._monotonic

    def advance(self, seconds: float) -> None:
        """Time passes: both clocks move."""
        self._wall += seconds
        self._monotonic += seconds

    def step(self, seconds: float) -> None:
        """The wall clock is set forward (or back, when negative); no time passes."""
        self._wall += seconds


class SteppedClock:
    """The host's clocks, with the wall clock set off by ``step`` seconds."""

    def __init__(self) -> None:
        self.offset = 0.0

    def wall(self) -> float:
        """``time.time()`` plus the steps so far."""
        return time.time() + self.offset

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def step(self, seconds: float) -> None:
        """The wall clock is set forward (or back, when negative)."""
        self.offset += seconds
