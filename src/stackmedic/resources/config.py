"""The `resources:` config section: sampling, history retention and spike rules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stackmedic.resources.window import Aggregate
from stackmedic.types import Severity

PositiveSeconds = Annotated[float, Field(gt=0)]
NonNegativeSeconds = Annotated[float, Field(ge=0)]

Metric = Literal[
    "container_cpu_percent",
    "container_cpu_core_percent",
    "container_cpu_busy_percent",
    "container_memory_percent",
    "container_memory_bytes",
    "host_cpu_percent",
    "host_memory_percent",
    "host_swap_percent",
    "host_disk_percent",
]
CONTAINER_METRICS: frozenset[str] = frozenset(m for m in get_args(Metric) if m.startswith("c"))
HOST_METRICS: frozenset[str] = frozenset(m for m in get_args(Metric) if m.startswith("h"))

SampleSource = Literal["auto", "cgroups", "stats_api"]


class SpikeRule(BaseModel):
    """A windowed rule: fire when the aggregate over `for_seconds` is above `threshold`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Unique rule name (letters, digits, `_.:-`).",
    )
    metric: Metric = Field(
        description="container_cpu_core_percent (100 = one full core, as docker stats),"
        " container_cpu_percent (100 = all of its CPU limit, or of all host cores without"
        " one), container_cpu_busy_percent (100 = one full core, or all of its limit when"
        " that is below one core), container_memory_percent (of its limit, or of host"
        " memory), container_memory_bytes, host_cpu_percent, host_memory_percent,"
        " host_swap_percent, host_disk_percent. The README's table has each metric's unit."
    )
    threshold: float = Field(
        description="Fires when the windowed value (see aggregate) is above this value."
    )
    clear_below: float | None = Field(
        default=None,
        description="Resolves once the windowed value is below this (default: the threshold).",
    )
    for_seconds: NonNegativeSeconds = Field(
        default=0,
        description="The window: the samples of the last this many seconds are aggregated"
        "\n(0: the latest sample alone); it fires only once samples reach back over all of it.",
    )
    aggregate: Aggregate = Field(
        default="avg",
        description="How the window's samples are combined: avg (rides out jitter), p50 (the"
        "\nmedian), min (every sample above the threshold: one dip restarts the wait).",
    )
    cooldown_seconds: NonNegativeSeconds = Field(
        default=900, description="After a resolve, the same subject cannot fire for this long."
    )
    severity: Severity = Field(default=Severity.WARNING, description="warning or critical.")
    deployments: list[str] = Field(
        default_factory=list, description="Only containers of these deployments (empty: all)."
    )
    services: list[str] = Field(
        default_factory=list, description="Only containers of these services (empty: all)."
    )
    exclude_deployments: list[str] = Field(
        default_factory=list, description="Never containers of these deployments."
    )
    exclude_services: list[str] = Field(
        default_factory=list, description="Never containers of these services."
    )

    @field_validator("severity")
    @classmethod
    def _alerting(cls, value: Severity) -> Severity:
        if value is Severity.INFO:
            raise ValueError("a spike rule's severity is warning or critical, not info")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.clear_below is not None and self.clear_below > self.threshold:
            raise ValueError("clear_below must not be above threshold")
        scoped = self.deployments or self.services
        scoped = scoped or self.exclude_deployments or self.exclude_services
        if self.metric in HOST_METRICS and scoped:
            raise ValueError(
                f"{self.metric} is a host metric: it takes no deployment/service scope"
            )
        return self

    @property
    def clear_threshold(self) -> float:
        """The value the metric must drop below to resolve a firing alert."""
        return self.threshold if self.clear_below is None else self.clear_below

    def applies_to(self, deployment: str, service: str) -> bool:
        """Whether this rule covers a container of `service` in `deployment`."""
        if self.deployments and deployment not in self.deployments:
            return False
        if self.services and service not in self.services:
            return False
        if deployment in self.exclude_deployments:
            return False
        return service not in self.exclude_services


def default_rules() -> list[SpikeRule]:
    """Rules used when the config gives none: few, averaged over a window, with hysteresis.

    The values follow Netdata's stock alarms (10min_cpu_usage, ram_in_use / ram_available,
    cgroup_ram_in_use, disk_space_usage): a warning and a critical level with the clear
    level 10 points lower. The CPU rule reads ``container_cpu_busy_percent`` so that it
    fires for what an operator calls a spike on a host of any size: a container keeping a
    whole core busy (a stuck loop reads 100 on 2 cores as on 64), or one held at a CPU
    limit below one core.
    """
    return [
        SpikeRule(name="container-memory-high", metric="container_memory_percent",
                  threshold=90, clear_below=80, for_seconds=120),
        SpikeRule(name="container-cpu-high", metric="container_cpu_busy_percent",
                  threshold=90, clear_below=80, for_seconds=300),
        SpikeRule(name="host-cpu-high", metric="host_cpu_percent",
                  threshold=85, clear_below=75, for_seconds=600),
        SpikeRule(name="host-cpu-critical", metric="host_cpu_percent",
                  threshold=95, clear_below=85, for_seconds=600, severity=Severity.CRITICAL),
        SpikeRule(name="host-memory-high", metric="host_memory_percent",
                  threshold=90, clear_below=85, for_seconds=120),
        SpikeRule(name="host-memory-critical", metric="host_memory_percent",
                  threshold=98, clear_below=90, for_seconds=60, severity=Severity.CRITICAL),
        SpikeRule(name="host-disk-high", metric="host_disk_percent",
                  threshold=90, clear_below=80, for_seconds=60),
        SpikeRule(name="host-disk-full", metric="host_disk_percent",
                  threshold=98, clear_below=90, for_seconds=60, severity=Severity.CRITICAL),
    ]


class ResourcesConfig(BaseModel):
    """How host and container resources are sampled, kept and judged."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Sample host and container resources.")
    sample_interval_seconds: PositiveSeconds = Field(
        default=10, description="Seconds between two samples."
    )
    raw_retention_hours: PositiveSeconds = Field(
        default=24, description="Hours of history kept at the sampling interval."
    )
    minute_retention_days: PositiveSeconds = Field(
        default=7, description="Days of history kept as 1-minute averages and maxima."
    )
    ring_size: int = Field(
        default=360,
        ge=2,
        le=100_000,
        description="Recent samples kept in memory per container (the memory trend before an"
        " OOM kill).",
    )
    source: SampleSource = Field(
        default="auto",
        description="auto: cgroup files, the engine's stats API where they are not readable;"
        "\ncgroups: cgroup files only; stats_api: the engine's stats API only.",
    )
    cgroup_root: Path = Field(
        default=Path("/sys/fs/cgroup"), description="Where the cgroup hierarchy is mounted."
    )
    disk_paths: dict[str, Path] = Field(
        default_factory=dict,
        description="Extra paths whose filesystems to watch, by label; the data folder and the"
        "\nengine's data root are always watched as `data` and `docker`.",
    )
    limits_refresh_seconds: PositiveSeconds = Field(
        default=60, description="How often CPU and memory limits are re-read."
    )
    stats_api_concurrency: int = Field(
        default=32, ge=1, le=100, description="Stats API requests in flight at once (fallback)."
    )
    rules: list[SpikeRule] = Field(
        default_factory=default_rules,
        description="Spike rules; a list given here replaces the defaults shown. A rule fires"
        "\nwhen its metric's average over for_seconds is above threshold (once samples reach"
        "\nback that far) and resolves when the average drops below clear_below. The defaults"
        "\nfollow Netdata's stock alarms: host CPU averaged over 10 min, warning above 85 %"
        "\nand critical above 95 %, clearing 10 points lower (10min_cpu_usage); memory"
        "\nwarning above 90 % (ram_available, cgroup_ram_in_use), the host critical above"
        "\n98 % (ram_in_use); disk warning above 90 % and critical above 98 %"
        "\n(disk_space_usage).",
    )

    @model_validator(mode="after")
    def _unique_rule_names(self) -> Self:
        names = [r.name for r in self.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule names: {', '.join(duplicates)}")
        return self
