"""Which engine events stackmedic's own actions caused, so they are not taken as a person's.

This module is the one owner of that answer: ``covers`` is the rule, and the windows the
intent tracker keeps are the record; the health engine sees the same windows through the
bus events that carry their start and end.

An action owns only the events it can cause (a start owns no stop), only for the services
it touches, and at most one of each per container: a second stop of a container it already
stopped and started again is someone else's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# The engine stamps an event when the change happens, before the Compose command that
# caused it returns; so own events are told apart by comparing that stamp with when the
# action ran, on the engine's clock (``EngineClient.to_engine``: a tcp:// daemon's clock
# may be off from the agent's), with a small tolerance for clock granularity. A person
# acting right after the agent must not fall inside it. Windows are kept long enough for
# a replay to match them.
ACTION_TAIL_SECONDS = 0.02
WINDOW_MEMORY_SECONDS = 600.0

STOPPING = frozenset({"kill", "die", "stop"})
STARTING = frozenset({"create", "start", "restart"})
# What each action can make the engine report. ``up`` may recreate a container (stop of
# the old one, then destroy, create, start), but its stops are left to the tracker, which
# drops a stop whose service is running again when it is decided.
CAUSES: dict[str, frozenset[str]] = {
    "start": STARTING | {"destroy"},
    "stop": STOPPING,
    "down": STOPPING | {"destroy"},
    "restart": STOPPING | STARTING,
}
RECOVERY_CAUSES = STOPPING | STARTING | {"destroy"}  # recovery may restart or recreate


def covers(start: float, end: float | None, at: float) -> bool:
    """Whether an event stamped ``at`` falls in the window of an action that began at
    ``start`` and ended (its tail included) at ``end`` (None: still acting).

    The one rule for "stackmedic's own": the intent tracker's windows and the health
    engine's view of actions in progress (``health.activity``) both use it, with the same
    start and end (carried by the ``ActionStarted`` / ``ActionFinished`` bus events).
    """
    return start - ACTION_TAIL_SECONDS <= at and (end is None or at <= end)


@dataclass
class ActionWindow:
    """When the agent acted on a deployment, what it did and to which services."""

    start: float
    action: str = "recover"
    services: frozenset[str] | None = None  # None: every service of the deployment
    end: float | None = None
    claimed: set[tuple[str, str]] = field(default_factory=set)  # (container, action)

    @property
    def causes(self) -> frozenset[str]:
        """Engine actions this window may own."""
        return CAUSES.get(self.action, RECOVERY_CAUSES)

    def covers(self, at: float) -> bool:
        """Whether an event stamped ``at`` falls inside the window."""
        return covers(self.start, self.end, at)

    def claim(self, container: str, service: str, action: str, at: float) -> bool:
        """Take the event as this action's own if it could have caused it."""
        if action not in self.causes or not self.covers(at):
            return False
        if self.services is not None and service not in self.services:
            return False
        if (container, action) in self.claimed and action != "kill":
            return False  # kill repeats when a stop escalates to SIGKILL
        if action in STOPPING and (container, "start") in self.claimed:
            return False  # stopped again after this action started it: not this action
        self.claimed.add((container, action))
        return True


class ActionWindows:
    """The agent's recent and current actions, per deployment, on the engine's clock
    (``now`` reads it: the agent's wall clock with the daemon's measured offset)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._windows: dict[str, list[ActionWindow]] = {}

    def begin(self, deployment: str, action: str = "recover",
              services: frozenset[str] | None = None) -> ActionWindow:
        """Open a window for an action that starts now."""
        windows = self._windows.setdefault(deployment, [])
        now = self._now()
        windows[:] = [w for w in windows if w.end is None or w.end > now - WINDOW_MEMORY_SECONDS]
        window = ActionWindow(now, action, services)
        windows.append(window)
        return window

    def end(self, deployment: str, window: ActionWindow | None = None) -> None:
        """Close ``window`` (or the oldest open one of the deployment)."""
        for candidate in self._windows.get(deployment, []):
            if candidate.end is None and (window is None or candidate is window):
                candidate.end = self._now() + ACTION_TAIL_SECONDS
                return

    def own(self, deployment: str, container: str, service: str, action: str,
            at: float) -> bool:
        """Whether one of the agent's actions caused this event."""
        return any(w.claim(container, service, action, at)
                   for w in self._windows.get(deployment, []))
