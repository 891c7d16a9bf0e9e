"""What the container sampler keeps per container from one sample to the next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from stackmedic.resources.cgroup_reader import CgroupReader
from stackmedic.resources.models import ContainerRef


class Limits(Protocol):
    """A container's limits as a reader found them (cgroup files or the engine's config)."""

    @property
    def cpu_cores(self) -> float | None: ...
    @property
    def memory_bytes(self) -> int | None: ...
    @property
    def cpu_quota_us(self) -> int | None: ...
    @property
    def cpu_period_us(self) -> int | None: ...


@dataclass(slots=True)
class TrackedContainer:
    """One sampled container: its open cgroup files, last CPU reading and known limits."""

    ref: ContainerRef
    reader: CgroupReader | None = None
    prev_cpu_ns: int | None = None
    prev_clock_ns: int | None = None
    cpu_limit_cores: float | None = None
    memory_limit_bytes: int | None = None
    cpu_quota_us: int | None = None
    cpu_period_us: int | None = None
    limits_read_at: int | None = None  # monotonic nanoseconds
    via_api: bool = False
    # When the cgroup files were last looked for in vain: looked for again only after
    # the retry interval, so a host without readable files costs no path search per sample.
    missing_at: int | None = None
    misses: int = 0

    def limits_due(self, now_ns: int, refresh_ns: int) -> bool:
        """Whether the limits were never read or were read longer than ``refresh_ns`` ago."""
        return self.limits_read_at is None or now_ns - self.limits_read_at >= refresh_ns

    def keep_limits(self, limits: Limits, now_ns: int) -> None:
        """Remember the limits just read."""
        self.cpu_limit_cores = limits.cpu_cores
        self.memory_limit_bytes = limits.memory_bytes
        self.cpu_quota_us = limits.cpu_quota_us
        self.cpu_period_us = limits.cpu_period_us
        self.limits_read_at = now_ns

    def start_over(self) -> None:
        """Forget the last CPU reading and the limits: the source of the figures changed."""
        self.prev_cpu_ns = self.prev_clock_ns = self.limits_read_at = None
