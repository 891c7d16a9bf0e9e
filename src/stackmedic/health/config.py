"""The ``health:`` section of the agent config."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PositiveSeconds = Annotated[float, Field(gt=0)]


class HealthConfig(BaseModel):
    """How observed container states roll up into deployment verdicts."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    sweep_interval_seconds: PositiveSeconds = 30
    """Full comparison with the engine, as a safety net for missed events."""
    start_grace_seconds: PositiveSeconds = 30
    """A deployment started by stackmedic is `starting`, not ill, this long."""
    crash_loop_restarts: int = Field(default=3, ge=1)
    """Restarts within the window that make a service crash-looping."""
    crash_loop_window_seconds: PositiveSeconds = 300
    """The crash-loop window."""
    flap_seconds: PositiveSeconds = 30
    """A failing healthcheck's problem ends once it has passed this long: if it fails again
    sooner it is flapping, one problem; recovery acts on a flapping deployment only once
    it stayed ill this long."""
