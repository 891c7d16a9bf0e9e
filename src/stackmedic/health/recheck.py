"""Per-deployment recheck timers: recompute a verdict when time alone may change it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

# A timer fires this much after the moment it waits for, so that the moment has passed.
MARGIN_SECONDS = 0.01

Due = Callable[[str], Coroutine[Any, Any, None]]


class RecheckTimers:
    """At most one pending recheck per deployment, run as a task when it falls due.

    ``due(name)`` is called when the timer fires (so its synchronous part runs then); the
    coroutine it returns runs as a task, awaited (cancelled) by ``close``.
    """

    def __init__(self, due: Due) -> None:
        self._due = due
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, name: str, after: float | None) -> None:
        """Recheck ``name`` in ``after`` seconds (None: no recheck), replacing any pending."""
        self.cancel(name)
        if after is None:
            return
        loop = asyncio.get_running_loop()
        self._timers[name] = loop.call_later(max(0.0, after) + MARGIN_SECONDS, self._fire, name)

    def cancel(self, name: str) -> None:
        """Drop the pending recheck of ``name``, if any."""
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _fire(self, name: str) -> None:
        self._timers.pop(name, None)
        task = asyncio.ensure_future(self._due(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel pending rechecks and the ones running."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
