"""The ``metrics:`` section of the agent config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

COMPOSE_LABELS = "com.docker.compose.*"


class MetricsConfig(BaseModel):
    """What ``/metrics`` exposes beyond stackmedic's own families."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    cadvisor: bool = True
    """Also expose container series under cAdvisor's names and labels
    (container_cpu_usage_seconds_total, container_memory_working_set_bytes, ...)."""

    cadvisor_labels: list[str] = Field(default_factory=lambda: [COMPOSE_LABELS])
    """Docker labels copied onto the container series as ``container_label_<name>``
    (``.``, ``-`` and other characters a label name cannot hold become ``_``). Shell-style
    patterns: ``com.docker.compose.*`` (the default) takes every Compose label; ``*`` takes
    all of them, as cAdvisor does; ``[]`` none. Each label is one more label on every series."""

    cadvisor_fs_interval_seconds: float = Field(default=300.0, ge=0)
    """How often the disk usage of each container's writable layer and volumes is walked
    (container_fs_usage_bytes); 0 turns the walk off. It is the one costly cAdvisor figure:
    a walk reads every file's metadata."""

    cadvisor_fs_max_entries: int = Field(default=100_000, ge=1)
    """A writable layer or volume with more entries than this is not walked (its usage is
    left out and a warning logged), so one huge volume cannot make the walk run long."""
