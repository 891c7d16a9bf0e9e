"""Cgroup layout detection (v1, v2 or hybrid; engine, driver, rootless) and container paths."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from stackmedic.resources.cgroup_paths import (
    CgroupDriver,
    EngineName,
    PathPattern,
    ordered_patterns,
)

CgroupVersion = Literal[1, 2]
# On v2 Podman (crun, systemd driver) puts a container's processes in this child of its scope.
PODMAN_SUBGROUP = "container"

__all__ = [
    "CgroupDriver",
    "CgroupLayout",
    "CgroupVersion",
    "ContainerCgroupFiles",
    "count_cpus",
    "detect_layout",
]


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
    directory: Path | None = None
    pattern: str = ""
    cpu_stat: Path | None = None
    """v1's cpu.stat (throttling); on v2 the throttling is in ``cpu_usage`` (cpu.stat)."""
    cgroup_path: str = ""
    """The container's cgroup as cAdvisor names it, e.g. ``/docker/<id>``."""
    inner: Path | None = None
    """v2: the child of the container's cgroup its processes live in, when there is one
    (Podman's ``container``): its own limits count too (crun may set them there)."""

    @property
    def counter_files(self) -> tuple[Path, Path, Path, Path]:
        """The files read on every sample, in reading order."""
        return (self.cpu_usage, self.memory_usage, self.memory_stat, self.oom_events)

    def missing(self) -> list[str]:
        """Names of the counter and limit files that are not there (an undelegated controller)."""
        wanted = [*self.counter_files, self.memory_limit, self.cpu_quota]
        return [p.name for p in wanted if not p.is_file()]


@dataclass(frozen=True, slots=True)
class CgroupLayout:
    """The cgroup hierarchy of this host as seen under `root`, and who puts containers there."""

    version: CgroupVersion
    root: Path
    driver: CgroupDriver | None = None
    engine: EngineName = "docker"
    rootless: bool = False
    uid: int | None = None
    hybrid: bool = False
    patterns: tuple[PathPattern, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.patterns:
            ordered = ordered_patterns(self.engine, self.driver, self.rootless)
            object.__setattr__(self, "patterns", tuple(ordered))

    @property
    def reader(self) -> str:
        """The reader this layout needs: ``v2`` (unified files) or ``v1`` (per controller)."""
        return f"v{self.version}"

    @property
    def expected_pattern(self) -> str:
        """Where this engine's container cgroups are expected, for a person to read."""
        base = self.root if self.version == 2 else self.root / "memory"
        shown = self.patterns[0].shown()
        if self.uid is not None:
            shown = shown.replace("<uid>", str(self.uid))
        return f"{base}/{shown}"

    def relative_dirs(self, container_id: str) -> list[str]:
        """Candidate cgroup directories of a container (relative), the likeliest first."""
        uid = "*" if self.uid is None else str(self.uid)
        return [p.template.format(id=container_id, uid=uid) for p in self.patterns]

    def container_files(self, container_id: str) -> ContainerCgroupFiles | None:
        """A running container's cgroup files, or None when no readable set is found.

        A directory without the memory files (controllers not enabled or not delegated
        there) does not count: the caller falls back to the stats API.
        """
        files = self.locate(container_id)
        if files is None or files.missing():
            return None
        return files

    def locate(self, container_id: str) -> ContainerCgroupFiles | None:
        """The container's cgroup directory and file names, whether or not all files exist."""
        base = self.root if self.version == 2 else self.root / "memory"
        for pattern in self.patterns:
            for directory in pattern.candidates(base, container_id, self.uid):
                return self._files_for(directory.relative_to(base), pattern)
        return None

    def with_driver(self, driver: str | None) -> CgroupLayout:
        """This layout with the engine's cgroup driver recorded."""
        known: CgroupDriver | None = None
        if driver in ("systemd", "cgroupfs"):
            known = "systemd" if driver == "systemd" else "cgroupfs"
        return replace(self, driver=known, patterns=())

    def for_engine(
        self, engine: str, *, rootless: bool, uid: int | None = None
    ) -> CgroupLayout:
        """This layout for an engine kind (docker or podman), rootful or rootless."""
        name: EngineName = "podman" if engine == "podman" else "docker"
        return replace(self, engine=name, rootless=rootless, uid=uid, patterns=())

    def _files_for(self, rel: Path, pattern: PathPattern) -> ContainerCgroupFiles:
        if self.version == 2:
            base = self.root / rel
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
                directory=base,
                pattern=pattern.shown(),
                cgroup_path=f"/{rel}",
                inner=base / PODMAN_SUBGROUP if (base / PODMAN_SUBGROUP).is_dir() else None,
            )
        memory = self.root / "memory" / rel
        cpuacct = _v1_controller(self.root, "cpuacct") / rel
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
            directory=memory,
            pattern=pattern.shown(),
            cpu_stat=cpu / "cpu.stat",
            cgroup_path=f"/{rel}",
        )


def detect_layout(root: Path, driver: str | None = None) -> CgroupLayout | None:
    """Detect the cgroup version mounted at `root`; None when no usable hierarchy is there.

    A unified (v2) hierarchy has `cgroup.controllers` at its root. A v1 (or hybrid) host has
    one directory per controller; the memory and cpuacct controllers must be readable. A
    hybrid host also mounts an empty-of-controllers v2 tree at `unified`.
    """
    if (root / "cgroup.controllers").is_file():
        return CgroupLayout(2, root).with_driver(driver)
    memory = root / "memory"
    cpuacct = _v1_controller(root, "cpuacct")
    if memory.is_dir() and cpuacct.is_dir() and os.access(memory, os.R_OK | os.X_OK):
        hybrid = (root / "unified" / "cgroup.controllers").is_file()
        return CgroupLayout(1, root, hybrid=hybrid).with_driver(driver)
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
