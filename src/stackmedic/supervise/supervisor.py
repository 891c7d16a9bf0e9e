"""One supervisor for every long-running task of the agent.

A task that raises is logged with its traceback and started again after a backoff; one
that keeps failing (``failure_limit`` failures within ``failure_window``) is reported as
a problem, which makes ``/healthz`` answer 503, until the task's heartbeat of the same
name shows progress again. A task that is expected to run for ever and returns is a
failure too. One-shot tasks (``restart=False``) are watched the same way
but not started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from stackmedic.supervise.backoff import exponential

log = structlog.get_logger(__name__)

TaskFactory = Callable[[], Awaitable[Any]]


@dataclass
class TaskStatus:
    """What the supervisor knows about one task."""

    name: str
    restart: bool
    running: bool = False
    starts: int = 0
    failures: int = 0
    last_error: str | None = None
    last_failure_at: float | None = None  # monotonic
    last_success_at: float | None = None  # monotonic, one-shot tasks that ended well
    recent: deque[float] = field(default_factory=deque)  # monotonic failure times

    def as_dict(self, now: float) -> dict[str, Any]:
        """JSON-ready form (ages instead of monotonic times)."""
        return {
            "running": self.running,
            "starts": self.starts,
            "failures": self.failures,
            "last_error": self.last_error,
            "seconds_since_failure": (
                None if self.last_failure_at is None else round(now - self.last_failure_at, 1)
            ),
        }


class Supervisor:
    """Starts, restarts and finally cancels the agent's background tasks."""

    def __init__(
        self,
        *,
        restart_initial: float = 1.0,
        restart_max: float = 60.0,
        failure_limit: int = 3,
        failure_window: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        progress: Callable[[str], float | None] | None = None,
    ) -> None:
        self._progress = progress or (lambda name: None)
        self._initial = restart_initial
        self._max = restart_max
        self._limit = failure_limit
        self._window = failure_window
        self._clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.status: dict[str, TaskStatus] = {}
        self._closing = False

    def spawn(self, name: str, factory: TaskFactory, *, restart: bool = True
              ) -> asyncio.Task[None] | None:
        """Run ``factory()`` as task ``name``; with ``restart``, start it again after a failure.

        A one-shot name can be reused once its previous run has ended. Returns the task,
        or None once the supervisor is closing.
        """
        if self._closing:
            log.debug("supervisor closing; task not started", task=name)
            return None
        running = self._tasks.get(name)
        if running is not None and not running.done():
            raise RuntimeError(f"task {name!r} is already running")
        status = self.status.get(name)
        if status is None:
            status = self.status[name] = TaskStatus(name, restart)
        status.restart = restart
        task = asyncio.create_task(self._keep(status, factory), name=name)
        self._tasks[name] = task
        return task

    def running(self, name: str) -> bool:
        """Whether task ``name`` runs now."""
        task = self._tasks.get(name)
        return task is not None and not task.done()

    async def _keep(self, status: TaskStatus, factory: TaskFactory) -> None:
        streak = 0  # failures in a row
        while True:
            started = self._clock()
            status.running = True
            status.starts += 1
            try:
                await factory()
            except asyncio.CancelledError:
                status.running = False
                raise
            except Exception as exc:
                status.running = False
                self._failed(status, f"{type(exc).__name__}: {exc}", exc)
            else:
                status.running = False
                if not status.restart:
                    status.last_success_at = self._clock()
                    return
                self._failed(status, "ended although it should run until the agent stops", None)
            if not status.restart:
                return
            if self._clock() - started > self._max:
                streak = 0  # it ran well for a while: start again quickly
            streak += 1
            delay = exponential(streak, self._initial, self._max)
            log.warning("restarting task", task=status.name, after_seconds=delay)
            await asyncio.sleep(delay)

    def _failed(self, status: TaskStatus, error: str, exc: BaseException | None) -> None:
        now = self._clock()
        status.failures += 1
        status.last_error = error
        status.last_failure_at = now
        status.recent.append(now)
        while status.recent and now - status.recent[0] > self._window:
            status.recent.popleft()
        trace = "".join(traceback.format_exception(exc)) if exc is not None else None
        log.error("task failed", task=status.name, error=error, failures=status.failures,
                  traceback=trace)

    def problems(self) -> list[str]:
        """A sentence per task that keeps failing; empty when all is well."""
        now = self._clock()
        found = []
        for status in self.status.values():
            while status.recent and now - status.recent[0] > self._window:
                status.recent.popleft()
            recovered = self._progress(status.name)
            if recovered is not None and status.last_failure_at is not None and (
                recovered > status.last_failure_at
            ):
                continue  # its loop made progress since the last failure
            if status.last_success_at is not None and status.last_failure_at is not None and (
                status.last_success_at >= status.last_failure_at
            ):
                continue  # a one-shot task that failed, then ran again and ended well
            if len(status.recent) >= self._limit:
                found.append(
                    f"{status.name}: failed {len(status.recent)} times in the last "
                    f"{self._window:g}s, last: {status.last_error}"
                )
            elif status.restart and not self.running(status.name) and not self._closing:
                found.append(f"{status.name}: not running (last error: {status.last_error})")
        return found

    def statuses(self) -> dict[str, dict[str, Any]]:
        """Every task's status, JSON-ready."""
        now = self._clock()
        return {name: s.as_dict(now) for name, s in self.status.items()}

    async def stop(self, names: tuple[str, ...], timeout: float) -> None:
        """Cancel the tasks ``names`` (not restarted) and wait up to ``timeout`` for them."""
        tasks = [t for n in names if (t := self._tasks.pop(n, None)) is not None and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def close(self, timeout: float) -> None:
        """Cancel every task and wait (up to ``timeout``) for them to end; no new ones start."""
        self._closing = True
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                log.warning("task did not end when cancelled", task=task.get_name())
        with contextlib.suppress(Exception):
            await asyncio.gather(*[t for t in tasks if t.done()], return_exceptions=True)
        self._tasks.clear()


def every(seconds: float, job: TaskFactory, *, beat: Callable[[], None] | None = None
          ) -> TaskFactory:
    """A task factory running ``job`` every ``seconds`` (monotonic); ``beat`` after each run.

    An error in ``job`` ends the task, so the supervisor logs it and restarts it with backoff.
    """

    async def loop() -> None:
        while True:
            await asyncio.sleep(seconds)
            await job()
            if beat is not None:
                beat()

    return loop


async def best_effort(what: str, step: Callable[..., Awaitable[object]], *args: Any) -> None:
    """Await ``step(*args)``; an error is logged with its traceback, never raised."""
    try:
        await step(*args)
    except Exception:
        log.exception(f"{what} failed")
