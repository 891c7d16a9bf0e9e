"""The ``metrics:`` section of the agent config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class MetricsConfig(BaseModel):
    """What ``/metrics`` exposes beyond stackmedic's own families."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    cadvisor: bool = True
    """Also expose container series under cAdvisor's names and labels
    (container_cpu_usage_seconds_total, container_memory_working_set_bytes, ...)."""
