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


@dataclass(frozen=True, slots=True)
class CgroupLimits:
    """Limits of a container; None means not limited at the cgroup level."""

    cpu_cores: float | None
    memory_bytes: int | None


class CgroupReader:
    """Kept-open descriptors on one container's counter files; cheap to read repeatedly.

    The same figures as `docker stats` (and cAdvisor's `container_memory_working_set_bytes`):
    CPU from `cpu.stat` `usage_usec` (v2) or `cpuacct.usage` (v1); memory as the working set,
    usage minus inactive file pages (`memory.current` - `inactive_file` on v2,
    `memory.usage_in_bytes` - `total_inactive_file` on v1); OOM kills from `memory.events` or
    `memory.oom_control` `oom_kill`; limits from `memory.max` / `cpu.max` ("max" is none) or
    `memory.limit_in_bytes` / `cpu.cfs_quota_us`, capped by the cpuset.
    """

    __slots__ = ("_fds", "_inactive_needle", "_v2", "files")

    def __init__(self, files: ContainerCgroupFiles) -> None:
        self.files = files
        self._v2 = files.version == 2
        self._inactive_needle = b"inactive_file " if self._v2 else b"total_inactive_file "
        self._fds: tuple[int, ...] = ()

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

    def close(self) -> None:
        """Close the descriptors."""
        fds, self._fds = self._fds, ()
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
        return CgroupCounters(
            cpu_ns=cpu_ns,
            memory_bytes=usage - inactive if inactive < usage else usage,
            oom_kills=field_value(oom_raw, b"oom_kill "),
        )

    def read_limits(self) -> CgroupLimits:
        """Read the CPU and memory limits (opened per call: they are read rarely)."""
        files = self.files
        cores: float | None = None
        if self._v2:
            quota, _, period = _read_text(files.cpu_quota).partition(" ")
            if quota not in ("max", "") and period:
                cores = int(quota) / int(period)
            raw_memory = _read_text(files.memory_limit)
            memory = None if raw_memory in ("max", "") else int(raw_memory)
        else:
            quota_us = int(_read_text(files.cpu_quota) or "-1")
            if quota_us > 0 and files.cpu_period is not None:
                cores = quota_us / int(_read_text(files.cpu_period))
            memory = int(_read_text(files.memory_limit) or "0") or None
        if memory is not None and memory >= _UNLIMITED_FLOOR:
            memory = None
        if files.cpuset is not None:
            try:
                cpus = count_cpus(_read_text(files.cpuset))
            except (OSError, ValueError):
                cpus = 0
            if cpus and (cores is None or cpus < cores):
                cores = float(cpus)
        return CgroupLimits(cpu_cores=cores, memory_bytes=memory)


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


def _pread_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(fd, 65536, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _read_text(path: Path) -> str:
    with open(path, encoding="ascii") as fh:
        return fh.read().strip()
