"""Host CPU, load, memory, swap and disk figures through psutil."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import psutil
import structlog

from stackmedic.resources.models import DiskUsage, HostSample

log = structlog.get_logger(__name__)


class HostSampler:
    """Samples the host; CPU % is computed between two consecutive calls."""

    def __init__(self, disk_paths: Mapping[str, Path] | None = None) -> None:
        self._disk_paths = dict(disk_paths or {})
        self._previous_cpu: tuple[float, float] | None = None
        self._missing_disks: set[str] = set()
        self.cpu_count = psutil.cpu_count() or 1
        self.memory_total_bytes = int(psutil.virtual_memory().total)

    def add_disk_path(self, label: str, path: Path) -> None:
        """Watch the filesystem holding `path` under `label` (first label for a path wins)."""
        if label not in self._disk_paths and path not in self._disk_paths.values():
            self._disk_paths[label] = path

    @property
    def disk_paths(self) -> dict[str, Path]:
        """The watched paths by label."""
        return dict(self._disk_paths)

    def sample(self, ts: float) -> HostSample:
        """Read the host figures now."""
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        load1, load5, load15 = psutil.getloadavg()
        self.memory_total_bytes = int(memory.total)
        return HostSample(
            ts=ts,
            cpu_count=self.cpu_count,
            cpu_percent=self._cpu_percent(),
            load1=load1,
            load5=load5,
            load15=load15,
            memory_total_bytes=int(memory.total),
            memory_used_bytes=int(memory.total - memory.available),
            memory_available_bytes=int(memory.available),
            memory_percent=float(memory.percent),
            swap_total_bytes=int(swap.total),
            swap_used_bytes=int(swap.used),
            swap_percent=float(swap.percent),
            disks=tuple(self._disks()),
        )

    def _cpu_percent(self) -> float | None:
        times = psutil.cpu_times()
        total = sum(times)
        # guest time is already counted in user time on Linux.
        total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
        idle = times.idle + getattr(times, "iowait", 0.0)
        previous, self._previous_cpu = self._previous_cpu, (total, idle)
        if previous is None:
            return None
        total_delta = total - previous[0]
        if total_delta <= 0:
            return 0.0
        busy_delta = total_delta - (idle - previous[1])
        return max(0.0, min(100.0, busy_delta / total_delta * 100.0))

    def _disks(self) -> list[DiskUsage]:
        disks = []
        for label, path in self._disk_paths.items():
            try:
                usage = psutil.disk_usage(str(path))
            except OSError as exc:
                if label not in self._missing_disks:
                    self._missing_disks.add(label)
                    log.warning(
                        "resources.disk_unreadable", label=label, path=str(path), error=str(exc)
                    )
                continue
            self._missing_disks.discard(label)
            disks.append(
                DiskUsage(
                    label=label,
                    path=str(path),
                    total_bytes=int(usage.total),
                    used_bytes=int(usage.used),
                    free_bytes=int(usage.free),
                    percent=float(usage.percent),
                )
            )
        return disks
