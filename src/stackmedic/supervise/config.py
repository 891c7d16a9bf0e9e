"""The `supervision:` config section: task restarts, loop heartbeats, the watchdog."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PositiveSeconds = Annotated[float, Field(gt=0)]


class SupervisionConfig(BaseModel):
    """How the agent watches its own tasks and loops."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    restart_initial_seconds: PositiveSeconds = 1
    """First wait before restarting a task that failed; doubles on each failure."""
    restart_max_seconds: PositiveSeconds = 60
    """Longest wait before restarting a failed task."""
    failure_limit: int = Field(default=3, ge=1)
    """Failures of one task within failure_window_seconds that make the agent unhealthy."""
    failure_window_seconds: PositiveSeconds = 600
    """Window in which a task's failures are counted."""
    events_heartbeat_seconds: PositiveSeconds = 10
    """The event stream reports progress at least this often while it is connected."""
    stale_after_periods: float = Field(default=3, ge=1)
    """A loop silent for this many of its periods is reported stale."""
