"""Reads one container's cgroup counters through kept-open file descriptors and `os.pread`."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from stackmedic.resources.cgroups import ContainerCgroupFiles, count_cpus

# cgroup v1 reports "no limit" as a page-aligned LONG_MAX; anything this large is unlimited.
_UNLIMITED_FLOOR = 1 << 60
_STAT_BUFFER = 8192


@dataclass(frozen=True, slots=True)
class CgroupCounters:
    """Counters read on every sample."""

    cpu_ns: int
    memory_bytes: int
    oom_kills: int
    usage_bytes: int = 0
    """Memory usage as the kernel counts it (page cache included)."""
    working_set_bytes: int = 0
    """Usage minus inactive file pages, 0 when these exceed it (cAdvisor's working set)."""
    rss_bytes: int = 0
    cache_bytes: int = 0
    throttled_ns: int | None = None
    """Time the CFS quota held the container back; None where the kernel shows none."""


@dataclass(frozen=True, slots=True)
class CgroupLimits:
    """Limits of a container; None means not limited at the cgroup level."""

    cpu_cores: float | None
    memory_bytes: int | None
    cpu_quota_us: int | None = None
    """The CFS quota per period; None when there is none."""
    cpu_period_us: int | None = None
    """The CFS period."""


class CgroupReader:
    """Kept-open descriptors on one container's counter files; cheap to read repeatedly.

    The same figures as `docker stats` (and cAdvisor's `container_memory_working_set_bytes`):
    CPU from `cpu.stat` `usage_usec` (v2) or `cpuacct.usage` (v1); memory as the working set,
    usage minus inactive file pages (`memory.current` - `inactive_file` on v2,
    `memory.usage_in_bytes` - `total_inactive_file` on v1); OOM kills from `memory.events` or
    `memory.oom_control` `oom_kill`; limits from `memory.max` / `cpu.max` ("max" is none) or
    `memory.limit_in_bytes` / `cpu.cfs_quota_us`, capped by the cpuset.
    """

    __slots__ = ("_fds", "_inactive_needle", "_needles", "_throttle_fd", "_v2", "files")

    def __init__(self, files: ContainerCgroupFiles) -> None:
        self.files = files
        self._v2 = files.version == 2
        self._inactive_needle = b"inactive_file " if self._v2 else b"total_inactive_file "
        # (rss, cache) as cAdvisor reads them: v2 anon/file, v1 the hierarchical totals.
        self._needles = (b"anon ", b"file ") if self._v2 else (b"total_rss ", b"total_cache ")
        self._fds: tuple[int, ...] = ()
        self._throttle_fd: int | None = None

    @property
    def is_open(self) -> bool:
        """Whether the descriptors are open."""
        return bool(self._fds)

    def open(self) -> None:
        """Open the counter files; raise OSError (and hold nothing) when one cannot be opened."""
        if self._fds:
            return
        opened: list[int] = []
        try:
            for path in self.files.counter_files:
                opened.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            for fd in opened:
                os.close(fd)
            raise
        self._fds = tuple(opened)
        if self.files.cpu_stat is not None:
            try:  # optional: v1's cpu controller may not be mounted where cpuacct is
                self._throttle_fd = os.open(self.files.cpu_stat, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self._throttle_fd = None

    def close(self) -> None:
        """Close the descriptors."""
        fds, self._fds = self._fds, ()
        if self._throttle_fd is not None:
            fds, self._throttle_fd = (*fds, self._throttle_fd), None
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def read(self) -> CgroupCounters:
        """Read the counters; raise OSError (ENODEV once the cgroup is gone)."""
        cpu_fd, usage_fd, stat_fd, oom_fd = self._fds
        pread = os.pread
        cpu_raw = pread(cpu_fd, 512, 0)
        usage = int(pread(usage_fd, 64, 0))
        stat = pread(stat_fd, _STAT_BUFFER, 0)
        if len(stat) == _STAT_BUFFER:
            stat = _pread_all(stat_fd)
        oom_raw = pread(oom_fd, 512, 0)
        cpu_ns = cpu_usage_ns(cpu_raw, 2 if self._v2 else 1)
        inactive = field_value(stat, self._inactive_needle)
        rss_needle, cache_needle = self._needles
        return CgroupCounters(
            cpu_ns=cpu_ns,
            memory_bytes=usage - inactive if inactive < usage else usage,
            oom_kills=field_value(oom_raw, b"oom_kill "),
            usage_bytes=usage,
            working_set_bytes=max(0, usage - inactive),
            rss_bytes=field_value(stat, rss_needle),
            cache_bytes=field_value(stat, cache_needle),
            throttled_ns=self._throttled_ns(cpu_raw),
        )

    def _throttled_ns(self, cpu_raw: bytes) -> int | None:
        """Throttled time from cpu.stat (v2 ``throttled_usec``, v1 ``throttled_time``)."""
        if self._v2:
            return _optional_field(cpu_raw, b"throttled_usec ", 1000)
        if self._throttle_fd is None:
            return None
        return _optional_field(os.pread(self._throttle_fd, 512, 0), b"throttled_time ", 1)

    def read_limits(self) -> CgroupLimits:
        """Read the CPU and memory limits (opened per call: they are read rarely)."""
        files = self.files
        cores: float | None = None
        quota_us: int | None = None
        period_us: int | None = None
        if self._v2:
            # The container's cgroup and, where its processes sit in a child, the child's:
            # the tighter of the two limits is the one its processes meet.
            dirs = [files.cpu_quota.parent, *([files.inner] if files.inner else [])]
            for folder in dirs:
                quota, _, period = _limit_text(folder / "cpu.max", folder is files.inner)\
                    .partition(" ")
                if quota not in ("max", "") and period:
                    if cores is None or int(quota) / int(period) < cores:
                        cores, quota_us = int(quota) / int(period), int(quota)
                        period_us = int(period)
                elif period and period_us is None:
                    period_us = int(period)
            limits = [int(raw) for raw in (_limit_text(folder / "memory.max",
                                                       folder is files.inner) for folder in dirs)
                      if raw not in ("max", "")]
            memory = min(limits) if limits else None
        else:
            raw_quota = int(_read_text(files.cpu_quota) or "-1")
            if files.cpu_period is not None and (raw_quota > 0 or files.cpu_period.is_file()):
                period_us = int(_read_text(files.cpu_period))
            if raw_quota > 0 and period_us:
                cores = raw_quota / period_us
                quota_us = raw_quota
            memory = int(_read_text(files.memory_limit) or "0") or None
        if memory is not None and memory >= _UNLIMITED_FLOOR:
            memory = None
        cpuset = files.cpuset
        if cpuset is not None and files.inner is not None and \
                (files.inner / cpuset.name).is_file():
            cpuset = files.inner / cpuset.name
        if cpuset is not None:
            try:
                cpus = count_cpus(_read_text(cpuset))
            except (OSError, ValueError):
                cpus = 0
            if cpus and (cores is None or cpus < cores):
                cores = float(cpus)
        return CgroupLimits(
            cpu_cores=cores, memory_bytes=memory, cpu_quota_us=quota_us, cpu_period_us=period_us
        )


def cpu_usage_ns(raw: bytes, version: int) -> int:
    """CPU time used, in ns: v2 `cpu.stat` `usage_usec` (a core file, there even without the
    cpu controller), v1 `cpuacct.usage`."""
    return field_value(raw, b"usage_usec ") * 1000 if version == 2 else int(raw)


def field_value(data: bytes, needle: bytes) -> int:
    """Return the integer after `needle` at the start of a line of a flat-keyed file, or 0."""
    if data.startswith(needle):
        start = len(needle)
    else:
        at = data.find(b"\n" + needle)
        if at < 0:
            return 0
        start = at + 1 + len(needle)
    end = data.find(b"\n", start)
    return int(data[start:] if end < 0 else data[start:end])


def _optional_field(data: bytes, needle: bytes, scale: int) -> int | None:
    """The value after `needle` times `scale`, or None when the key is not there."""
    if not data.startswith(needle) and b"\n" + needle not in data:
        return None
    return field_value(data, needle) * scale


def _pread_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(fd, 65536, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _limit_text(path: Path, optional: bool) -> str:
    """A limit file's text; "" for an optional one that is not there (no such controller)."""
    if optional and not path.is_file():
        return ""
    return _read_text(path)


def _read_text(path: Path) -> str:
    with open(path, encoding="ascii") as fh:
        return fh.read().strip()
