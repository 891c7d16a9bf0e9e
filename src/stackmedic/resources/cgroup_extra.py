"""The cgroup figures cAdvisor exports beyond the sampled summary, for one cgroup.

CPU user/system time (v1 ``cpuacct.stat`` in clock ticks, v2 ``cpu.stat`` in µs), CFS
periods (``cpu.stat``), swap (v1 ``memory.stat`` ``total_swap``, v2 ``memory.swap.current``),
the memory fail count (v1 ``memory.failcnt``, v2 ``memory.events`` ``max``) and block I/O
bytes per device (v1 ``blkio`` service bytes, v2 ``io.stat``). Like the sampler's reader,
descriptors are kept open between reads and read with ``os.pread``.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from stackmedic.resources.cgroup_reader import field_value
from stackmedic.resources.cgroups import CgroupLayout, _v1_controller

_BUFFER = 16384
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_V1_BLKIO = (
    "blkio.io_service_bytes_recursive",
    "blkio.throttle.io_service_bytes_recursive",
    "blkio.throttle.io_service_bytes",
)


@dataclass(frozen=True, slots=True)
class DeviceIo:
    """Bytes read and written on one block device."""

    major: int
    minor: int
    read_bytes: int
    write_bytes: int


@dataclass(frozen=True, slots=True)
class ExtraCounters:
    """One cgroup's extra figures; None where the kernel shows none."""

    cpu_user_seconds: float | None
    cpu_system_seconds: float | None
    cfs_periods: int | None
    cfs_throttled_periods: int | None
    swap_bytes: int | None
    failcnt: int | None
    io: tuple[DeviceIo, ...] = ()
    max_usage_bytes: int | None = None
    """Peak memory usage (v1 ``memory.max_usage_in_bytes``, v2 ``memory.peak``)."""
    mapped_file_bytes: int | None = None
    """Memory-mapped file pages (v1 ``total_mapped_file``, v2 ``file_mapped``)."""


class ExtraCgroupFiles:
    """One cgroup's extra files, for either cgroup version, kept open between reads."""

    def __init__(self, layout: CgroupLayout, cgroup_path: str) -> None:
        self._fds: dict[Path, int | None] = {}
        self.cgroup_path = cgroup_path
        rel = cgroup_path.strip("/")
        root = layout.root
        self.version = layout.version
        if layout.version == 2:
            base = root / rel if rel else root
            self.cpu_stat = base / "cpu.stat"
            self.cpuacct_stat: Path | None = None
            self.memory_stat = base / "memory.stat"
            self.peak = base / "memory.peak"
            self.swap = base / "memory.swap.current"
            self.failcnt = base / "memory.events"
            self.io = [base / "io.stat"]
        else:
            def v1(controller: str) -> Path:
                mount = _v1_controller(root, controller)
                return mount / rel if rel else mount

            self.cpu_stat = v1("cpu") / "cpu.stat"
            self.cpuacct_stat = v1("cpuacct") / "cpuacct.stat"
            self.memory_stat = v1("memory") / "memory.stat"
            self.peak = v1("memory") / "memory.max_usage_in_bytes"
            self.swap = self.memory_stat
            self.failcnt = v1("memory") / "memory.failcnt"
            self.io = [v1("blkio") / name for name in _V1_BLKIO]

    def close(self) -> None:
        """Close the kept-open descriptors."""
        fds, self._fds = self._fds, {}
        for fd in fds.values():
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _read(self, path: Path) -> bytes | None:
        """The file's content; None when it is not there (looked for once)."""
        if path not in self._fds:
            try:
                self._fds[path] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except (FileNotFoundError, NotADirectoryError):
                self._fds[path] = None
        fd = self._fds[path]
        if fd is None:
            return None
        data = os.pread(fd, _BUFFER, 0)
        if len(data) == _BUFFER:  # a long memory.stat or io.stat: read the rest
            chunks = [data]
            while chunk := os.pread(fd, _BUFFER, sum(len(c) for c in chunks)):
                chunks.append(chunk)
            data = b"".join(chunks)
        return data.strip()

    def read(self) -> ExtraCounters:
        """Read the figures; a file that is not there gives None (or no devices).

        OSError (ENODEV) once the cgroup is gone: the descriptors are then closed."""
        try:
            return self._read_all()
        except OSError:
            self.close()
            raise

    def _read_all(self) -> ExtraCounters:
        read = self._read
        cpu = read(self.cpu_stat)
        memory = read(self.memory_stat)
        peak = read(self.peak)
        if self.version == 2:
            user = _scaled(cpu, b"user_usec ", 1e-6)
            system = _scaled(cpu, b"system_usec ", 1e-6)
            swap_raw = read(self.swap)
            swap = int(swap_raw) if swap_raw else None
            failcnt = _key(read(self.failcnt), b"max ")
            io = parse_io_stat(read(self.io[0]) or b"")
        else:
            acct = read(self.cpuacct_stat) if self.cpuacct_stat else None
            user = _scaled(acct, b"user ", 1 / _TICKS)
            system = _scaled(acct, b"system ", 1 / _TICKS)
            swap = _key(memory, b"total_swap ")
            raw_fail = read(self.failcnt)
            failcnt = int(raw_fail) if raw_fail else None
            io = ()
            for path in self.io:
                io = parse_blkio(read(path) or b"")
                if io:
                    break
        return ExtraCounters(
            cpu_user_seconds=user,
            cpu_system_seconds=system,
            cfs_periods=_key(cpu, b"nr_periods "),
            cfs_throttled_periods=_key(cpu, b"nr_throttled "),
            swap_bytes=swap,
            failcnt=failcnt,
            io=io,
            max_usage_bytes=int(peak) if peak else None,
            mapped_file_bytes=_key(memory, b"file_mapped " if self.version == 2
                                   else b"total_mapped_file "),
        )


def parse_blkio(data: bytes) -> tuple[DeviceIo, ...]:
    """v1 ``blkio.*io_service_bytes*``: ``MAJ:MIN Read|Write|... N`` lines per device."""
    devices: dict[tuple[int, int], list[int]] = {}
    for line in data.splitlines():
        parts = line.split()
        if len(parts) != 3 or b":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(b":")
        figures = devices.setdefault((int(major), int(minor)), [0, 0])
        if parts[1] == b"Read":
            figures[0] = int(parts[2])
        elif parts[1] == b"Write":
            figures[1] = int(parts[2])
    return tuple(DeviceIo(mj, mn, r, w) for (mj, mn), (r, w) in sorted(devices.items()))


def parse_io_stat(data: bytes) -> tuple[DeviceIo, ...]:
    """v2 ``io.stat``: ``MAJ:MIN rbytes=N wbytes=N ...`` per device."""
    found = []
    for line in data.splitlines():
        head, *pairs = line.split()
        major, _, minor = head.partition(b":")
        values = dict(p.split(b"=", 1) for p in pairs if b"=" in p)
        found.append(DeviceIo(int(major), int(minor), int(values.get(b"rbytes", 0)),
                              int(values.get(b"wbytes", 0))))
    return tuple(sorted(found, key=lambda d: (d.major, d.minor)))


def _present(data: bytes, needle: bytes) -> bool:
    return data.startswith(needle) or b"\n" + needle in data


def _key(data: bytes | None, needle: bytes) -> int | None:
    if data is None or not _present(data, needle):
        return None
    return field_value(data, needle)


def _scaled(data: bytes | None, needle: bytes, scale: float) -> float | None:
    value = _key(data, needle)
    return None if value is None else value * scale
