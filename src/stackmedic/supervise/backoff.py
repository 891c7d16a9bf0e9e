"""The one backoff rule: double the wait each time, up to a ceiling."""

from __future__ import annotations


def next_delay(current: float, maximum: float, *, factor: float = 2.0) -> float:
    """The wait after ``current``: ``current * factor``, never above ``maximum``."""
    return min(current * factor, maximum)
