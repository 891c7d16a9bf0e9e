"""Value objects passed between the sampler, history, rules and the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from stackmedic.types import Severity

SampleSourceName = Literal["cgroups", "stats_api"]
AlertState = Literal["pending", "firing", "resolved"]

HOST_SUBJECT = "host"


@dataclass(frozen=True, slots=True)
class ContainerRef:
    """A container the sampler should watch, named the way users know it."""

    container_id: str
    deployment: str = ""
    service: str = ""
    name: str = ""


class DetailReading(Protocol):
    """The memory and throttling figures a reader gives (cgroup files or the stats API)."""

    @property
    def usage_bytes(self) -> int: ...
    @property
    def working_set_bytes(self) -> int: ...
    @property
    def rss_bytes(self) -> int: ...
    @property
    def cache_bytes(self) -> int: ...
    @property
    def throttled_ns(self) -> int | None: ...


class DetailLimits(Protocol):
    """A container's limits as last read, the way a sample's detail shows them."""

    @property
    def cpu_quota_us(self) -> int | None: ...
    @property
    def cpu_period_us(self) -> int | None: ...
    @property
    def memory_limit_bytes(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class SampleDetail:
    """The figures cAdvisor exposes beyond the summary, as one sample read them."""

    usage_bytes: int
    """Memory usage including page cache (cgroup memory.current / usage_in_bytes)."""
    working_set_bytes: int
    """Usage minus inactive file pages, never below 0."""
    rss_bytes: int
    cache_bytes: int
    throttled_seconds: float | None
    """CFS throttled time; None where the kernel or engine reports none."""
    cpu_quota_us: int | None
    """CFS quota per period; None when the CPU is not limited by a quota."""
    cpu_period_us: int | None
    memory_limit_bytes: int | None
    """The container's own memory limit; None when unlimited."""
    cgroup_path: str = ""
    """The cgroup path (``/docker/<id>``) cAdvisor uses as the ``id`` label."""
    read_at: float | None = None
    """When the engine read the figures (stats API); None: at the sample's own time."""

    @classmethod
    def from_reading(
        cls,
        reading: DetailReading,
        limits: DetailLimits,
        cgroup_path: str,
        read_at: float | None = None,
    ) -> SampleDetail:
        """The detail of one reading, with the container's limits as last read."""
        throttled = reading.throttled_ns
        return cls(
            usage_bytes=reading.usage_bytes,
            working_set_bytes=reading.working_set_bytes,
            rss_bytes=reading.rss_bytes,
            cache_bytes=reading.cache_bytes,
            throttled_seconds=None if throttled is None else throttled / 1e9,
            cpu_quota_us=limits.cpu_quota_us,
            cpu_period_us=limits.cpu_period_us,
            memory_limit_bytes=limits.memory_limit_bytes,
            cgroup_path=cgroup_path,
            read_at=read_at,
        )


@dataclass(frozen=True, slots=True)
class ContainerSample:
    """One container's resource figures at one moment."""

    ts: float
    ref: ContainerRef
    source: SampleSourceName
    cpu_core_percent: float | None
    cpu_percent: float | None
    cpu_limit_cores: float
    cpu_usage_seconds: float
    memory_bytes: int
    memory_limit_bytes: int
    memory_percent: float
    oom_kills: int | None
    detail: SampleDetail | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping."""
        return {
            "container_id": self.ref.container_id,
            "deployment": self.ref.deployment,
            "service": self.ref.service,
            "name": self.ref.name,
            "ts": self.ts,
            "source": self.source,
            "cpu_core_percent": _round(self.cpu_core_percent),
            "cpu_percent": _round(self.cpu_percent),
            "cpu_limit_cores": round(self.cpu_limit_cores, 3),
            "cpu_usage_seconds": round(self.cpu_usage_seconds, 3),
            "memory_bytes": self.memory_bytes,
            "memory_limit_bytes": self.memory_limit_bytes,
            "memory_percent": _round(self.memory_percent),
            "oom_kills": self.oom_kills,
        }


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """Space used on the filesystem holding one watched path."""

    label: str
    path: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    percent: float


@dataclass(frozen=True, slots=True)
class HostSample:
    """The host's resource figures at one moment."""

    ts: float
    cpu_count: int
    cpu_percent: float | None
    load1: float
    load5: float
    load15: float
    memory_total_bytes: int
    memory_used_bytes: int
    memory_available_bytes: int
    memory_percent: float
    swap_total_bytes: int
    swap_used_bytes: int
    swap_percent: float
    disks: tuple[DiskUsage, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping."""
        data = asdict(self)
        data["cpu_percent"] = _round(self.cpu_percent)
        data["disks"] = [asdict(d) for d in self.disks]
        return data


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything sampled in one tick."""

    ts: float
    host: HostSample | None
    containers: tuple[ContainerSample, ...] = ()
    duration_seconds: float = 0.0
    mono: float | None = None  # monotonic seconds at the tick: what durations are measured on

    @property
    def tick(self) -> float:
        """The time rule durations are measured on: monotonic when known, else ``ts``."""
        return self.ts if self.mono is None else self.mono

    def container(self, container_id: str) -> ContainerSample | None:
        """Return the sample of one container, if it was sampled."""
        for sample in self.containers:
            if sample.ref.container_id == container_id:
                return sample
        return None


@dataclass(frozen=True, slots=True)
class Consumer:
    """A container ranked among the biggest users of a resource."""

    container_id: str
    name: str
    deployment: str
    service: str
    value: float
    unit: Literal["bytes", "percent_of_core"]


@dataclass(frozen=True, slots=True)
class SpikeAlert:
    """One state of a spike rule for one subject (a container, the host or a disk).

    `value` is the windowed value the rule judged; `since` is when the window it was judged
    on began; `fired_at` and `resolved_at` mark the firing and its end.
    """

    rule: str
    severity: Severity
    state: AlertState
    metric: str
    subject: str
    value: float
    threshold: float
    clear_below: float
    since: float
    ts: float
    deployment: str | None = None
    service: str | None = None
    container_id: str | None = None
    container_name: str | None = None
    fired_at: float | None = None
    resolved_at: float | None = None
    reason: str = ""
    top_consumers: tuple[Consumer, ...] = field(default_factory=tuple)
    aggregate: str = "avg"
    """How `value` was taken over the window: avg, p50 or min."""
    window_seconds: float = 0.0
    """The rule's window (its `for_seconds`): `value` aggregates the samples of this span."""
    samples: int = 1
    """How many samples `value` aggregates."""

    @property
    def key(self) -> tuple[str, str]:
        """The identity of this alert across its states: (rule, subject)."""
        return (self.rule, self.subject)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping."""
        data = asdict(self)
        data["value"] = round(self.value, 3)
        data["top_consumers"] = [asdict(c) for c in self.top_consumers]
        return data


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
