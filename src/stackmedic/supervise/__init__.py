"""Self-supervision: restarted tasks, heartbeats of every loop, and systemd's watchdog."""

from stackmedic.supervise.backoff import next_delay
from stackmedic.supervise.config import SupervisionConfig
from stackmedic.supervise.heartbeat import Heartbeat, Heartbeats, LoopStatus
from stackmedic.supervise.supervisor import Supervisor, TaskStatus

__all__ = [
    "Heartbeat",
    "Heartbeats",
    "LoopStatus",
    "SupervisionConfig",
    "Supervisor",
    "TaskStatus",
    "next_delay",
]
