"""Shared names for states and sources used across the agent."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Protocol


class DesiredState(StrEnum):
    """What the user wants a deployment (or service) to be."""

    RUNNING = "running"
    STOPPED = "stopped"


class IntentSource(StrEnum):
    """Who or what last changed a desired state."""

    API = "api"
    CLI = "cli"
    WEB = "web"
    OBSERVED_STOP = "observed-stop"
    OBSERVED_START = "observed-start"
    FIRST_SEEN = "first-seen"


class Severity(StrEnum):
    """How much attention an event deserves."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Clock(Protocol):
    """Where the agent reads time: monotonic for every wait, wall only for display and
    for comparing with the engine's own times."""

    def wall(self) -> float:
        """Seconds since the epoch (steps with NTP; never use for a wait)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps (for waits, deadlines and windows)."""
        ...


class SystemClock:
    """The host's clocks."""

    def wall(self) -> float:
        """``time.time()``."""
        return time.time()

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()


SYSTEM_CLOCK: Clock = SystemClock()
