"""Self-supervision: restarted tasks, heartbeats of every loop, and systemd's watchdog."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stackmedic.supervise.backoff import next_delay
    from stackmedic.supervise.config import SupervisionConfig
    from stackmedic.supervise.heartbeat import Heartbeat, Heartbeats, LoopStatus
    from stackmedic.supervise.supervisor import Supervisor, TaskStatus

# Loaded on first access, so that importing one light module of this package (a
# config model, say) does not load the heavy ones and their libraries.
_LAZY = {
    "next_delay": "stackmedic.supervise.backoff",
    "SupervisionConfig": "stackmedic.supervise.config",
    "Heartbeat": "stackmedic.supervise.heartbeat",
    "Heartbeats": "stackmedic.supervise.heartbeat",
    "LoopStatus": "stackmedic.supervise.heartbeat",
    "Supervisor": "stackmedic.supervise.supervisor",
    "TaskStatus": "stackmedic.supervise.supervisor",
}

__all__ = [
    "Heartbeat",
    "Heartbeats",
    "LoopStatus",
    "SupervisionConfig",
    "Supervisor",
    "TaskStatus",
    "next_delay",
]


def __getattr__(name: str) -> Any:
    """Import a re-exported name from its module the first time it is used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
