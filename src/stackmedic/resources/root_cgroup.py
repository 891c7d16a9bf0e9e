"""The root cgroup's figures (cAdvisor's ``id="/"``): the whole machine as the kernel counts it.

v1 reads the root of each controller (``cpuacct.usage``, ``memory.usage_in_bytes``,
``memory.stat`` totals). The v2 root has no ``memory.current``: usage is ``MemTotal -
MemFree`` of ``/proc/meminfo``, as runc (and so cAdvisor) computes it there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stackmedic.resources.cgroup_extra import ExtraCgroupFiles, ExtraCounters
from stackmedic.resources.cgroup_reader import field_value
from stackmedic.resources.cgroups import CgroupLayout, _v1_controller


@dataclass(frozen=True, slots=True)
class RootReading:
    """The root cgroup's CPU time and memory figures, with its extra counters."""

    cpu_seconds: float
    usage_bytes: int
    working_set_bytes: int
    rss_bytes: int
    cache_bytes: int
    extra: ExtraCounters


def read_root(layout: CgroupLayout, meminfo: Path = Path("/proc/meminfo")) -> RootReading:
    """Read the root cgroup now; OSError or ValueError when its files are not readable."""
    files = ExtraCgroupFiles(layout, "/")
    try:
        extra = files.read()
    finally:
        files.close()
    if layout.version == 2:
        cpu_ns = field_value((layout.root / "cpu.stat").read_bytes(), b"usage_usec ") * 1000
        stat = (layout.root / "memory.stat").read_bytes()
        info = meminfo.read_bytes()
        usage = (_kib(info, b"MemTotal:") - _kib(info, b"MemFree:")) * 1024
        inactive, rss, cache = (field_value(stat, k) for k in
                                (b"inactive_file ", b"anon ", b"file "))
    else:
        cpu_ns = int((_v1_controller(layout.root, "cpuacct") / "cpuacct.usage").read_bytes())
        memory = layout.root / "memory"
        usage = int((memory / "memory.usage_in_bytes").read_bytes())
        stat = (memory / "memory.stat").read_bytes()
        inactive, rss, cache = (field_value(stat, k) for k in
                                (b"total_inactive_file ", b"total_rss ", b"total_cache "))
    return RootReading(cpu_ns / 1e9, usage, max(0, usage - inactive), rss, cache, extra)


def _kib(meminfo: bytes, key: bytes) -> int:
    """A ``/proc/meminfo`` figure (``Key:   N kB``) in KiB."""
    at = meminfo.find(key)
    if at < 0:
        raise ValueError(f"{key.decode()} not in /proc/meminfo")
    return int(meminfo[at + len(key):].split(None, 1)[0])
