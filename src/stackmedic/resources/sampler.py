"""The per-container collector: cgroup files first, the engine's stats API where they fail."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from stackmedic.resources.cgroup_reader import CgroupReader
from stackmedic.resources.cgroups import CgroupLayout, ContainerCgroupFiles
from stackmedic.resources.config import SampleSource
from stackmedic.resources.models import ContainerRef, ContainerSample, SampleSourceName
from stackmedic.resources.stats_api import StatsApiReader, cpu_core_percent

log = structlog.get_logger(__name__)

_YIELD_EVERY = 256
_FIRST_RETRY_NS = 1_000_000_000


@dataclass(slots=True)
class _Tracked:
    """What the collector keeps per container between samples."""

    ref: ContainerRef
    reader: CgroupReader | None = None
    prev_cpu_ns: int | None = None
    prev_clock_ns: int | None = None
    cpu_limit_cores: float | None = None
    memory_limit_bytes: int | None = None
    limits_read_at: float | None = None
    via_api: bool = False
    # When the cgroup files were last looked for in vain: looked for again only after
    # the retry interval, so a host without readable files costs no path search per sample.
    missing_at: int | None = None
    misses: int = 0


@dataclass(frozen=True, slots=True)
class HostShape:
    """The host facts container percentages are relative to."""

    cpu_count: int
    memory_total_bytes: int


class ContainerSampler:
    """Samples a changing set of containers; CPU % comes from deltas between samples."""

    def __init__(
        self,
        *,
        layout: CgroupLayout | None,
        stats_api: StatsApiReader | None,
        source: SampleSource = "auto",
        limits_refresh_seconds: float = 60.0,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._layout = layout if source != "stats_api" else None
        self._api = stats_api if source != "cgroups" else None
        self._refresh_ns = int(limits_refresh_seconds * 1e9)
        self._monotonic_ns = monotonic_ns
        self._tracked: dict[str, _Tracked] = {}
        self.fallback_reason: str | None = None

    @property
    def uses_cgroups(self) -> bool:
        """Whether cgroup files are read at all."""
        return self._layout is not None

    @property
    def layout(self) -> CgroupLayout | None:
        """The cgroup layout the files are looked for in (None: stats API only)."""
        return self._layout

    def set_layout(self, layout: CgroupLayout | None) -> None:
        """Look for cgroup files in another layout from now on (the engine changed)."""
        if layout == self._layout or self._layout is None:
            return
        self.close()
        self._layout = layout
        self.fallback_reason = None

    def cgroup_directories(self) -> dict[str, tuple[str, str]]:
        """Each container read from files: its cgroup directory and the pattern it matched."""
        found: dict[str, tuple[str, str]] = {}
        for cid, tracked in self._tracked.items():
            files = tracked.reader.files if tracked.reader is not None else None
            if files is not None and files.directory is not None:
                found[cid] = (str(files.directory), files.pattern)
        return found

    def sources(self) -> dict[str, SampleSourceName]:
        """How each tracked container was last sampled, by container id."""
        return {cid: "stats_api" if t.via_api else "cgroups" for cid, t in self._tracked.items()}

    async def sample(
        self, targets: Sequence[ContainerRef], ts: float, host: HostShape
    ) -> list[ContainerSample]:
        """Sample every target once; containers that are not running are left out."""
        self._forget_except({ref.container_id for ref in targets})
        samples: list[ContainerSample] = []
        fallback: list[_Tracked] = []
        for index, ref in enumerate(targets):
            if index % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
            tracked = self._tracked.get(ref.container_id)
            if tracked is None:
                tracked = self._tracked[ref.container_id] = _Tracked(ref)
            tracked.ref = ref
            if self._layout is not None:
                sample = self._sample_cgroup(tracked, ts, host)
                if sample is not None:
                    samples.append(sample)
                    continue
            if self._api is not None:
                fallback.append(tracked)
        if fallback:
            results = await asyncio.gather(*(self._read_api(t, ts, host) for t in fallback))
            samples.extend(s for s in results if s is not None)
        return samples

    def close(self) -> None:
        """Close every kept-open descriptor."""
        self._forget_except(set())

    def _forget_except(self, keep: set[str]) -> None:
        for cid in [cid for cid in self._tracked if cid not in keep]:
            tracked = self._tracked.pop(cid)
            if tracked.reader is not None:
                tracked.reader.close()

    def _attach(self, tracked: _Tracked) -> bool:
        """Open the container's cgroup files if needed; False when they are not there."""
        if tracked.reader is not None:
            return True
        assert self._layout is not None
        now_ns = self._monotonic_ns()
        if tracked.missing_at is not None:
            wait_ns = min(self._refresh_ns, _FIRST_RETRY_NS << min(tracked.misses - 1, 16))
            if now_ns - tracked.missing_at < wait_ns:
                return False
        files = self._layout.locate(tracked.ref.container_id)
        missing = files.missing() if files is not None else []
        reader = CgroupReader(files) if files is not None and not missing else None
        try:
            if reader is not None:
                reader.open()
        except OSError as exc:
            reader = None
            missing = [f"unreadable ({exc.strerror or exc})"]
        if reader is None:
            tracked.missing_at = now_ns
            tracked.misses += 1
            self._note_fallback(tracked, files, missing)
            return False
        tracked.missing_at, tracked.misses = None, 0
        tracked.reader = reader
        tracked.via_api = False
        tracked.prev_cpu_ns = tracked.prev_clock_ns = tracked.limits_read_at = None
        return True

    def _sample_cgroup(
        self, tracked: _Tracked, ts: float, host: HostShape
    ) -> ContainerSample | None:
        """Read the container's cgroup; a stale one (restarted container) is reopened once."""
        for _ in range(2):
            if not self._attach(tracked):
                return None
            sample = self._read_cgroup(tracked, ts, host)
            if sample is not None:
                return sample
        return None

    def _read_cgroup(self, tracked: _Tracked, ts: float, host: HostShape) -> ContainerSample | None:
        reader = tracked.reader
        assert reader is not None
        now_ns = self._monotonic_ns()
        try:
            counters = reader.read()
            if (
                tracked.limits_read_at is None
                or now_ns - tracked.limits_read_at >= self._refresh_ns
            ):
                limits = reader.read_limits()
                tracked.cpu_limit_cores = limits.cpu_cores
                tracked.memory_limit_bytes = limits.memory_bytes
                tracked.limits_read_at = now_ns
        except (OSError, ValueError):
            # The cgroup was removed (container stopped or restarted): reopen next time.
            reader.close()
            tracked.reader = None
            return None
        core_percent = None
        if tracked.prev_cpu_ns is not None and tracked.prev_clock_ns is not None:
            elapsed = now_ns - tracked.prev_clock_ns
            if elapsed > 0 and counters.cpu_ns >= tracked.prev_cpu_ns:
                core_percent = (counters.cpu_ns - tracked.prev_cpu_ns) / elapsed * 100.0
        tracked.prev_cpu_ns, tracked.prev_clock_ns = counters.cpu_ns, now_ns
        return _build(
            tracked,
            ts,
            host,
            source="cgroups",
            core_percent=core_percent,
            cpu_ns=counters.cpu_ns,
            memory_bytes=counters.memory_bytes,
            memory_limit=tracked.memory_limit_bytes,
            oom_kills=counters.oom_kills,
        )

    def _note_fallback(
        self, tracked: _Tracked, files: ContainerCgroupFiles | None, missing: list[str]
    ) -> None:
        """Remember why a container's cgroup files could not be used (the first reason only)."""
        if self.fallback_reason is not None:
            return
        assert self._layout is not None
        if files is None:
            name = tracked.ref.name or tracked.ref.container_id[:12]
            self.fallback_reason = (
                f"no cgroup directory for container {name}"
                f" under {self._layout.expected_pattern} (or the other known layouts)"
            )
        else:
            self.fallback_reason = f"{files.directory}: {', '.join(missing)}"
        log.info("resources.cgroup_files_not_used", reason=self.fallback_reason)

    async def _read_api(
        self, tracked: _Tracked, ts: float, host: HostShape
    ) -> ContainerSample | None:
        assert self._api is not None
        cid = tracked.ref.container_id
        if not tracked.via_api:
            tracked.via_api = True
            tracked.prev_cpu_ns = tracked.prev_clock_ns = tracked.limits_read_at = None
        now_ns = self._monotonic_ns()
        if tracked.limits_read_at is None or now_ns - tracked.limits_read_at >= self._refresh_ns:
            tracked.cpu_limit_cores = await self._api.cpu_limit(cid)
            tracked.limits_read_at = now_ns
        reading = await self._api.read(cid)
        if reading is None:
            tracked.prev_cpu_ns = tracked.prev_clock_ns = None
            return None
        core_percent = reading.cpu_core_percent
        if core_percent is None and reading.system_ns is not None:
            if tracked.prev_cpu_ns is not None and tracked.prev_clock_ns is not None:
                core_percent = cpu_core_percent(
                    reading.cpu_ns - tracked.prev_cpu_ns,
                    reading.system_ns - tracked.prev_clock_ns,
                    reading.online_cpus,
                )
            tracked.prev_cpu_ns, tracked.prev_clock_ns = reading.cpu_ns, reading.system_ns
        return _build(
            tracked,
            ts,
            host,
            source="stats_api",
            core_percent=core_percent,
            cpu_ns=reading.cpu_ns,
            memory_bytes=reading.memory_bytes,
            memory_limit=reading.memory_limit_bytes or None,
            oom_kills=None,
        )


def _build(
    tracked: _Tracked,
    ts: float,
    host: HostShape,
    *,
    source: SampleSourceName,
    core_percent: float | None,
    cpu_ns: int,
    memory_bytes: int,
    memory_limit: int | None,
    oom_kills: int | None,
) -> ContainerSample:
    cores = float(host.cpu_count)
    if tracked.cpu_limit_cores is not None:
        cores = min(cores, tracked.cpu_limit_cores)
    limit = host.memory_total_bytes
    if memory_limit is not None and memory_limit > 0:
        limit = min(limit, memory_limit)
    return ContainerSample(
        ts=ts,
        ref=tracked.ref,
        source=source,
        cpu_core_percent=core_percent,
        cpu_percent=None if core_percent is None or cores <= 0 else core_percent / cores,
        cpu_limit_cores=cores,
        cpu_usage_seconds=cpu_ns / 1e9,
        memory_bytes=memory_bytes,
        memory_limit_bytes=limit,
        memory_percent=memory_bytes / limit * 100.0 if limit > 0 else 0.0,
        oom_kills=oom_kills,
    )
