"""Cgroup layout detection (v1 or v2, cgroupfs or systemd driver) and per-container paths."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

CgroupVersion = Literal[1, 2]
CgroupDriver = Literal["cgroupfs", "systemd"]


@dataclass(frozen=True, slots=True)
class ContainerCgroupFiles:
    """Where one container's counters and limits live, for one cgroup version."""

    version: CgroupVersion
    cpu_usage: Path
    memory_usage: Path
    memory_stat: Path
    oom_events: Path
    memory_limit: Path
    cpu_quota: Path
    cpu_period: Path | None
    cpuset: Path | None
    cpu_stat: Path | None = None
    """v1's cpu.stat (throttling); on v2 the throttling is in ``cpu_usage`` (cpu.stat)."""
    cgroup_path: str = ""
    """The container's cgroup as cAdvisor names it, e.g. ``/docker/<id>``."""

    @property
    def counter_files(self) -> tuple[Path, Path, Path, Path]:
        """The files read on every sample, in reading order."""
        return (self.cpu_usage, self.memory_usage, self.memory_stat, self.oom_events)


@dataclass(frozen=True, slots=True)
class CgroupLayout:
    """The cgroup hierarchy of this host as seen under `root`."""

    version: CgroupVersion
    root: Path
    driver: CgroupDriver | None = None

    def relative_dirs(self, container_id: str) -> list[str]:
        """Candidate cgroup directories of a container, the detected driver's first."""
        cgroupfs = f"docker/{container_id}"
        systemd = f"system.slice/docker-{container_id}.scope"
        return [systemd, cgroupfs] if self.driver == "systemd" else [cgroupfs, systemd]

    def container_files(self, container_id: str) -> ContainerCgroupFiles | None:
        """Return a running container's cgroup files, or None when none are found."""
        for rel in self.relative_dirs(container_id):
            files = self._files_for(rel)
            if files is not None:
                return files
        return None

    def with_driver(self, driver: str | None) -> CgroupLayout:
        """Return this layout with the engine's cgroup driver recorded."""
        known: CgroupDriver | None = None
        if driver == "systemd":
            known = "systemd"
        elif driver == "cgroupfs":
            known = "cgroupfs"
        return CgroupLayout(self.version, self.root, known)

    def _files_for(self, rel: str) -> ContainerCgroupFiles | None:
        if self.version == 2:
            base = self.root / rel
            if not base.is_dir():
                return None
            return ContainerCgroupFiles(
                version=2,
                cpu_usage=base / "cpu.stat",
                memory_usage=base / "memory.current",
                memory_stat=base / "memory.stat",
                oom_events=base / "memory.events",
                memory_limit=base / "memory.max",
                cpu_quota=base / "cpu.max",
                cpu_period=None,
                cpuset=base / "cpuset.cpus.effective",
                cgroup_path=f"/{rel}",
            )
        memory = self.root / "memory" / rel
        cpuacct = _v1_controller(self.root, "cpuacct") / rel
        if not (memory.is_dir() and cpuacct.is_dir()):
            return None
        cpu = _v1_controller(self.root, "cpu") / rel
        cpuset = self.root / "cpuset" / rel
        return ContainerCgroupFiles(
            version=1,
            cpu_usage=cpuacct / "cpuacct.usage",
            memory_usage=memory / "memory.usage_in_bytes",
            memory_stat=memory / "memory.stat",
            oom_events=memory / "memory.oom_control",
            memory_limit=memory / "memory.limit_in_bytes",
            cpu_quota=cpu / "cpu.cfs_quota_us",
            cpu_period=cpu / "cpu.cfs_period_us",
            cpuset=cpuset / "cpuset.effective_cpus" if cpuset.is_dir() else None,
            cpu_stat=cpu / "cpu.stat",
            cgroup_path=f"/{rel}",
        )


def detect_layout(root: Path, driver: str | None = None) -> CgroupLayout | None:
    """Detect the cgroup version mounted at `root`; None when no usable hierarchy is there.

    A unified (v2) hierarchy has `cgroup.controllers` at its root. A v1 (or hybrid) host has
    one directory per controller; the memory and cpuacct controllers must be readable.
    """
    if (root / "cgroup.controllers").is_file():
        return CgroupLayout(2, root).with_driver(driver)
    memory = root / "memory"
    cpuacct = _v1_controller(root, "cpuacct")
    if memory.is_dir() and cpuacct.is_dir() and os.access(memory, os.R_OK | os.X_OK):
        return CgroupLayout(1, root).with_driver(driver)
    return None


def _v1_controller(root: Path, name: str) -> Path:
    """Return the mount of a v1 controller, allowing the co-mounted `cpu,cpuacct` form."""
    direct = root / name
    if direct.is_dir():
        return direct
    for combined in ("cpu,cpuacct", "cpuacct,cpu"):
        if (root / combined).is_dir():
            return root / combined
    return direct


def count_cpus(cpuset: str) -> int:
    """Count the CPUs in a cpuset list such as `0-3,8,10-11`; 0 when empty."""
    total = 0
    for part in cpuset.strip().split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        total += int(high) - int(low) + 1 if high else 1
    return total
