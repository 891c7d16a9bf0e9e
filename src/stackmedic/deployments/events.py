"""What deployment actions tell the rest of the agent (published on the bus)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActionOrigin(StrEnum):
    """Who asked for an action on a deployment."""

    PERSON = "person"  # through the API, CLI or dashboard
    RECOVERY = "recovery"  # stackmedic's own recovery


@dataclass(frozen=True)
class ActionStarted:
    """stackmedic began acting on a deployment (its events are not a person's)."""

    deployment: str
    action: str  # start / stop / restart / down, or a recovery verb (recreate, ...)
    origin: ActionOrigin
    # When its window opens, on the engine's clock (``intent.windows``): the intent
    # tracker's window starts at the same moment.
    at: float


@dataclass(frozen=True)
class ActionFinished:
    """stackmedic's action on a deployment ended, well or not."""

    deployment: str
    action: str
    origin: ActionOrigin
    ok: bool
    at: float
    # Until when engine events stamped then are still this action's, on the engine's
    # clock (``intent.windows``); the intent tracker's window ends at the same moment.
    until: float | None = None


@dataclass(frozen=True)
class ActionRequested:
    """A person asked for an action: its desired state is recorded, the action comes next."""

    deployment: str
    action: str  # start / stop / restart / down
    source: str  # api / cli / web
    at: float
