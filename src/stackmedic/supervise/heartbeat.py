"""Heartbeats: each long-running loop records when it last made progress.

A loop is *stale* once it has been silent for longer than its allowed period; the
agent's ``/healthz``, ``stackmedic check`` and the systemd watchdog all read the same
answer from here. Times are monotonic: a wall-clock step never makes a loop look stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]


@dataclass(frozen=True)
class LoopStatus:
    """One loop as ``/healthz`` shows it."""

    name: str
    ok: bool
    seconds_since_progress: float
    allowed_seconds: float
    beats: int
    problem: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "seconds_since_progress": round(self.seconds_since_progress, 1),
            "allowed_seconds": self.allowed_seconds,
            "beats": self.beats,
            "problem": self.problem,
        }


class Heartbeat:
    """The last progress of one loop.

    ``progress``, when given, is read at each check: any change of its value counts as a
    beat (for loops owned by parts that know nothing about heartbeats). ``check``, when
    given, is asked instead: None means alive (a beat), a sentence means stuck, reported at
    once. ``detail`` says why the loop may be silent, for the message shown when stale.
    """

    def __init__(
        self,
        name: str,
        allowed_seconds: float,
        *,
        clock: Clock = time.monotonic,
        progress: Callable[[], object] | None = None,
        check: Callable[[], str | None] | None = None,
        detail: Callable[[], str | None] | None = None,
    ) -> None:
        self.name = name
        self._check = check
        self.allowed_seconds = allowed_seconds
        self._clock = clock
        self._progress = progress
        self._seen = progress() if progress is not None else None
        self._detail = detail
        self.last = clock()
        self.beats = 0

    def beat(self) -> None:
        """Record progress now."""
        self.last = self._clock()
        self.beats += 1

    def status(self) -> LoopStatus:
        """Whether the loop made progress recently enough, and if not, what is known."""
        if self._progress is not None:
            value = self._progress()
            if value != self._seen:
                self._seen = value
                self.beat()
        trouble = self._check() if self._check is not None else None
        if self._check is not None and trouble is None:
            self.beat()
        age = max(0.0, self._clock() - self.last)
        problem = None
        if trouble is not None:
            problem = f"{self.name}: {trouble}"
        elif age > self.allowed_seconds:
            problem = f"{self.name}: no progress for {age:.0f}s (allowed {self.allowed_seconds:g}s)"
            why = self._detail() if self._detail is not None else None
            if why:
                problem += f": {why}"
        return LoopStatus(self.name, problem is None, age, self.allowed_seconds, self.beats,
                          problem)


class Heartbeats:
    """Every loop's heartbeat, by name."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._loops: dict[str, Heartbeat] = {}

    def add(
        self,
        name: str,
        allowed_seconds: float,
        *,
        progress: Callable[[], object] | None = None,
        check: Callable[[], str | None] | None = None,
        detail: Callable[[], str | None] | None = None,
    ) -> Heartbeat:
        """Register a loop that must show progress at least every ``allowed_seconds``."""
        if name in self._loops:
            raise ValueError(f"a heartbeat named {name!r} is already registered")
        heartbeat = Heartbeat(name, allowed_seconds, clock=self._clock, progress=progress,
                              check=check, detail=detail)
        self._loops[name] = heartbeat
        return heartbeat

    def __getitem__(self, name: str) -> Heartbeat:
        return self._loops[name]

    def start(self) -> None:
        """Count every loop's silence from now (the agent starts its loops)."""
        for loop in self._loops.values():
            loop.last = self._clock()

    def beat(self, name: str) -> None:
        """Record progress of the loop ``name``."""
        self._loops[name].beat()

    def last_progress(self, name: str) -> float | None:
        """When loop ``name`` last made progress (monotonic), None for an unknown name."""
        loop = self._loops.get(name)
        return None if loop is None or loop.beats == 0 else loop.last

    def statuses(self) -> list[LoopStatus]:
        """Every loop's status, in registration order."""
        return [loop.status() for loop in self._loops.values()]

    def problems(self) -> list[str]:
        """A sentence per stale loop; empty when every loop is alive."""
        return [s.problem for s in self.statuses() if s.problem]
