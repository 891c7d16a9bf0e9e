"""A rule's sliding window over one subject's samples, and the value it judges.

Pure: points are (tick, value) with the tick on the monotonic clock of the snapshots.
The window of a rule with ``for_seconds`` W at tick ``now`` is the closed span
``[now - W, now]``; its value is the aggregate of the samples inside it. The window is
covered once the subject has been watched for all of it: a sample at or before ``now - W``
is kept for that.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Literal

Aggregate = Literal["avg", "min", "p50"]

@dataclass(frozen=True, slots=True)
class WindowValue:
    """What a window holds at one tick: its aggregate, how many samples, how much it spans."""

    value: float
    samples: int
    covered_seconds: float
    window_seconds: float

    @property
    def covered(self) -> bool:
        """Whether the samples reach back over the whole window."""
        return self.covered_seconds >= self.window_seconds


def aggregate(values: Sequence[float], how: Aggregate) -> float:
    """The average, the minimum or the median of `values` (never empty)."""
    if how == "min":
        return min(values)
    if how == "p50":
        return float(statistics.median(values))
    return sum(values) / len(values)


class SampleWindow:
    """The points of one subject inside a rule's window, plus the newest one before it."""

    __slots__ = ("_seconds", "_ticks", "_values")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._ticks: deque[float] = deque()
        self._values: deque[float] = deque()

    def __len__(self) -> int:
        return len(self._ticks)

    def add(self, tick: float, value: float) -> None:
        """Add a point; one not newer than the newest kept is ignored (a replayed one)."""
        ticks, values = self._ticks, self._values
        if ticks and tick <= ticks[-1]:
            return
        ticks.append(tick)
        values.append(value)
        start = tick - self._seconds
        # Keep one point at or before the window's start: it shows the window is covered.
        while len(ticks) >= 2 and ticks[1] <= start:
            ticks.popleft()
            values.popleft()

    def value(self, how: Aggregate) -> WindowValue | None:
        """The window's aggregate at its newest point; None when it holds none."""
        ticks = self._ticks
        if not ticks:
            return None
        now = ticks[-1]
        start = now - self._seconds
        skip = 1 if ticks[0] < start else 0  # only the oldest point can be before the start
        inside = list(islice(self._values, skip, None))
        covered = min(self._seconds, now - ticks[0])
        return WindowValue(aggregate(inside, how), len(inside), covered, self._seconds)
