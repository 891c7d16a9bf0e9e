"""What the engine session and the container monitor tell the rest of the agent (on the bus).

On each connection of the engine's event stream, in this order: ``EngineReached`` (the
daemon is identified, before the resync reads the containers), ``EngineConnected`` (the
resync is done), ``ConnectionSettled`` (everything the connection set off has begun). When
the stream ends, ``EngineLost``; when the containers are read in full later in a connection
whose resync failed, ``EngineSynced``. Between them, for each engine event, ``EngineEvent``,
then ``ContainerChanged`` for each change of a container's observed state it makes, then
``EngineEventApplied``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackmedic.observe.boot import RestartKind
from stackmedic.observe.containers import ContainerState

__all__ = [
    "ConnectionSettled",
    "ContainerChanged",
    "EngineConnected",
    "EngineEvent",
    "EngineEventApplied",
    "EngineLost",
    "EngineReached",
    "EngineSynced",
]

RESTARTS = (RestartKind.HOST, RestartKind.DAEMON)


@dataclass(frozen=True)
class _Connection:
    host: str
    restart: RestartKind  # what restarted since the agent last looked
    first: bool  # the agent's first connection since it started
    daemon_started_at: float | None  # the daemon's start; the connection's for a restart
    at: float  # when the stream (re)connected

    @property
    def restarted(self) -> bool:
        """A host or daemon restart: a reconcile of every deployment follows."""
        return self.restart in RESTARTS

    @property
    def up_since(self) -> float:
        """Since when the daemon is known to be up."""
        return self.daemon_started_at or self.at


@dataclass(frozen=True)
class EngineReached(_Connection):
    """The event stream (re)connected and the daemon behind it is identified.

    Published before the resync: what it finds is judged against this daemon (an exit no
    later than the daemon's start was the shutdown's doing), and after a host or daemon
    restart the reconcile owns every deployment from here on.
    """


@dataclass(frozen=True)
class EngineConnected(_Connection):
    """The resync after connecting is done; ``synced`` says whether it read the containers."""

    synced: bool = True


@dataclass(frozen=True)
class ConnectionSettled:
    """Everything ``EngineConnected`` set off has begun (a restart reconcile among it)."""

    at: float


@dataclass(frozen=True)
class EngineSynced:
    """The containers were read in full, later in a connection whose resync had failed."""

    at: float


@dataclass(frozen=True)
class EngineLost:
    """The event stream ended (never published when the agent itself ends it)."""

    host: str
    at: float


@dataclass(frozen=True)
class EngineEvent:
    """One engine event, before the observed state applies it."""

    raw: dict[str, Any]


@dataclass(frozen=True)
class EngineEventApplied:
    """The same engine event, once the observed state applied it (or could not read it)."""

    raw: dict[str, Any]


@dataclass(frozen=True)
class ContainerChanged:
    """A container's observed state changed; ``event`` is the engine's, None from a sweep."""

    previous: ContainerState | None
    current: ContainerState | None
    event: dict[str, Any] | None = None
