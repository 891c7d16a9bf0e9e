"""Runs one coroutine function on a fixed schedule until stopped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


class Periodic:
    """Calls `work` every `interval` seconds (missed ticks are skipped, not queued)."""

    def __init__(self, work: Callable[[], Awaitable[object]], interval: float, name: str) -> None:
        self._work = work
        self._interval = interval
        self._name = name
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the schedule is running."""
        return self._task is not None

    def start(self) -> None:
        """Start the schedule; the first call happens right away."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self, timeout: float) -> None:
        """Let a call in progress finish (up to `timeout`), then cancel it."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=timeout)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not self._stopping.is_set():
            try:
                await self._work()
            except Exception:
                log.exception("resources.periodic_failed", task=self._name)
            next_at += self._interval
            if next_at < loop.time():
                next_at = loop.time() + self._interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), next_at - loop.time())
