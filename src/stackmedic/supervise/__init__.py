"""Self-supervision: restarted tasks, heartbeats of every loop, and systemd's watchdog."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackmedic.lazy import lazy_exports

if TYPE_CHECKING:
    from stackmedic.supervise.backoff import exponential
    from stackmedic.supervise.config import SupervisionConfig
    from stackmedic.supervise.heartbeat import Heartbeat, Heartbeats, LoopStatus
    from stackmedic.supervise.supervisor import Supervisor, TaskStatus

# Loaded on first access, so that importing one light module of this package (a
# config model, say) does not load the heavy ones and their libraries.
_LAZY = {
    "exponential": "stackmedic.supervise.backoff",
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
    "exponential",
]


__getattr__ = lazy_exports(globals(), _LAZY)
