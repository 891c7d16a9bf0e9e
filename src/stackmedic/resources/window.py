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
from dataclasses import dataclass
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


def aggregate(values: list[float], how: Aggregate) -> float:
    """The average, the minimum or the median of `values` (never empty)."""
    if how == "min":
        return min(values)
    if how == "p50":
        return float(statistics.median(values))
    return statistics.fmean(values)


class SampleWindow:
    """The points of one subject inside a rule's window, plus the newest one before it."""

    __slots__ = ("_points", "_seconds")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._points: deque[tuple[float, float]] = deque()

    def __len__(self) -> int:
        return len(self._points)

    @property
    def newest(self) -> float | None:
        """The tick of the newest point, if any."""
        return self._points[-1][0] if self._points else None

    def add(self, tick: float, value: float) -> None:
        """Add a point; one not newer than the newest kept is ignored (a replayed one)."""
        points = self._points
        if points and tick <= points[-1][0]:
            return
        points.append((tick, value))
        start = tick - self._seconds
        # Keep one point at or before the window's start: it shows the window is covered.
        while len(points) >= 2 and points[1][0] <= start:
            points.popleft()

    def value(self, now: float, how: Aggregate) -> WindowValue | None:
        """The window's aggregate at `now`; None when no sample is inside it."""
        start = now - self._seconds
        inside = [v for t, v in self._points if start <= t <= now]
        if not inside:
            return None
        covered = min(self._seconds, now - self._points[0][0])
        return WindowValue(aggregate(inside, how), len(inside), covered, self._seconds)
