"""The one backoff rule: double the wait after each failure in a row, up to a ceiling.

Task restarts, the engine's event stream, recovery attempts and notification retries all
wait ``exponential(n, initial, maximum)`` after their ``n``-th failure in a row.
"""

from __future__ import annotations


def exponential(attempt: int, initial: float, maximum: float, factor: float = 2.0) -> float:
    """The wait after failure number ``attempt`` in a row: ``initial`` after the first,
    ``factor`` times more after each further one, never above ``maximum``; 0 before any.

    ``factor`` is at least 1, so the waits never shrink as failures go on.
    """
    if attempt <= 0:
        return 0.0
    try:
        delay = initial * float(factor) ** (attempt - 1)
    except OverflowError:  # a very long streak: far past the ceiling anyway
        return float(maximum)
    return float(min(delay, maximum))
