"""A fixed-size ring of recent points for one series, packed into a flat array of doubles."""

from __future__ import annotations

import math
from array import array

# (ts, cpu_percent, cpu_core_percent, memory_bytes, memory_limit_bytes, memory_percent)
Point = tuple[float, float | None, float | None, int, int, float]

_WIDTH = 6


class SeriesRing:
    """Keeps the newest `capacity` points; 48 bytes per point, unknown CPU stored as NaN."""

    __slots__ = ("_capacity", "_data", "_size", "_start")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._data = array("d", bytes(8 * _WIDTH * capacity))
        self._start = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, point: Point) -> None:
        """Add the newest point, dropping the oldest when full."""
        ts, cpu, core, memory, limit, percent = point
        slot = (self._start + self._size) % self._capacity
        if self._size == self._capacity:
            self._start = (self._start + 1) % self._capacity
        else:
            self._size += 1
        at = slot * _WIDTH
        self._data[at : at + _WIDTH] = array(
            "d",
            (
                ts,
                math.nan if cpu is None else cpu,
                math.nan if core is None else core,
                memory,
                limit,
                percent,
            ),
        )

    def points(self) -> list[Point]:
        """Every kept point, oldest first."""
        data, out = self._data, []
        for i in range(self._size):
            at = ((self._start + i) % self._capacity) * _WIDTH
            cpu, core = data[at + 1], data[at + 2]
            out.append(
                (
                    data[at],
                    None if math.isnan(cpu) else cpu,
                    None if math.isnan(core) else core,
                    int(data[at + 3]),
                    int(data[at + 4]),
                    data[at + 5],
                )
            )
        return out
