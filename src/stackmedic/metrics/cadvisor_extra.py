"""Reads the figures cAdvisor exports beyond the resource sample, after each sample.

Once the resource monitor has taken a sample (and /metrics was scraped since the last
read: nothing is read while nobody scrapes), each sampled container's extra cgroup files
(CPU user/system, CFS periods, swap, fail count, block I/O) and its network namespace's
counters are read, and so are the root cgroup's. Network comes from ``/proc/<pid>/net/dev``
of the container's init process (the pid told by the engine, checked to be in the
container's cgroup); from the engine's stats API when that process cannot be seen (gone,
another pid namespace), which also gives the CPU, memory and I/O extras of a container
whose cgroup files are not read. A container in another's
namespace (``network_mode: container:X`` or ``service:X``) has no network series, as in
cAdvisor; one on the host network reports the host's interfaces, as in cAdvisor.
Filesystem usage (writable layer and volumes) is walked in a thread at its own slow
interval, each path bounded by an entry budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiodocker
import aiohttp
import structlog

from stackmedic.metrics.config import MetricsConfig
from stackmedic.resources.cgroup_extra import ExtraCgroupFiles, ExtraCounters
from stackmedic.resources.cgroups import CgroupLayout
from stackmedic.resources.fs_usage import BudgetExceeded, FsUsage, filesystem_usage, mount_devices
from stackmedic.resources.models import ContainerSample, Snapshot
from stackmedic.resources.netdev import InterfaceStats, from_stats_api, read_net_dev
from stackmedic.resources.root_cgroup import RootReading, read_root
from stackmedic.resources.stats_api import StatsApiReader, counters_from_stats

log = structlog.get_logger(__name__)


Inspect = Callable[[str], Awaitable[dict[str, Any] | None]]


class SnapshotSource(Protocol):
    """The resource monitor as this reader needs it."""

    layout: CgroupLayout | None

    async def next_snapshot(self, timeout: float | None = None) -> Snapshot: ...


@dataclass(frozen=True, slots=True)
class ContainerExtras:
    """One container's extra figures as last read."""

    read_at: float
    counters: ExtraCounters | None = None
    network: tuple[InterfaceStats, ...] | None = None
    """None: no network series (a namespace it shares with another container)."""


@dataclass(frozen=True, slots=True)
class RootExtras:
    """The root cgroup's figures and the host network's."""

    read_at: float
    reading: RootReading | None
    network: tuple[InterfaceStats, ...] | None


@dataclass
class ExtrasCost:
    """CPU spent reading (exposed as ``stackmedic_cadvisor_read_cpu_seconds_total``), and the
    containers whose filesystem walk was over its budget (warned once)."""

    read_seconds: float = 0.0
    fs_seconds: float = 0.0
    fs_skipped: set[str] = field(default_factory=set)


class ExtrasView(Protocol):
    """What the exposition reads of the extra figures (``CadvisorExtras`` fits)."""

    @property
    def root(self) -> RootExtras | None: ...
    @property
    def cost(self) -> ExtrasCost: ...
    def container(self, container_id: str) -> ContainerExtras | None: ...
    def filesystems(self, container_id: str) -> tuple[FsUsage, ...]: ...
    def want(self) -> None: ...


@dataclass
class FixedExtras:
    """Extra figures held as given, not read (what the bench and the tests expose)."""

    containers: dict[str, ContainerExtras] = field(default_factory=dict)
    fs: dict[str, tuple[FsUsage, ...]] = field(default_factory=dict)
    root: RootExtras | None = None
    cost: ExtrasCost = field(default_factory=ExtrasCost)

    def container(self, container_id: str) -> ContainerExtras | None:
        """The container's figures."""
        return self.containers.get(container_id)

    def filesystems(self, container_id: str) -> tuple[FsUsage, ...]:
        """The container's filesystems."""
        return self.fs.get(container_id, ())

    def want(self) -> None:
        """Nothing to read: the figures are fixed."""


@dataclass(slots=True)
class _Inspected:
    """What the engine said about a container, kept until it restarts."""

    started: str
    pid: int
    pid_visible: bool
    shared_network: bool
    paths: tuple[Path, ...]


class CadvisorExtras:
    """Keeps each sampled container's extra figures, read after every resource sample."""

    def __init__(
        self,
        source: SnapshotSource,
        config: MetricsConfig,
        *,
        inspect: Inspect | None = None,
        docker: Callable[[], aiodocker.Docker] | None = None,
        clock: Callable[[], float] = time.time,
        proc: str = "/proc",
    ) -> None:
        self._source = source
        self._inspect_engine = inspect
        self._docker = docker
        self._stats: StatsApiReader | None = None
        self._config = config
        self._clock = clock
        self._proc = proc
        self._inspected: dict[str, _Inspected] = {}
        self._files: dict[str, ExtraCgroupFiles] = {}
        self._containers: dict[str, ContainerExtras] = {}
        self._fs: dict[str, tuple[FsUsage, ...]] = {}
        self._fs_due = 0.0
        self._fs_task: asyncio.Task[None] | None = None
        self.root: RootExtras | None = None
        self.cost = ExtrasCost()
        self._wanted = False

    def want(self) -> None:
        """Someone scraped: read after the next sample (nothing is read while nobody does)."""
        self._wanted = True

    def container(self, container_id: str) -> ContainerExtras | None:
        """The container's extra figures, if read."""
        return self._containers.get(container_id)

    def filesystems(self, container_id: str) -> tuple[FsUsage, ...]:
        """The container's filesystem usage as last walked (empty: not walked or off)."""
        return self._fs.get(container_id, ())

    async def run(self) -> None:
        """Read after every sample the resource monitor takes, until cancelled."""
        try:
            while True:
                snapshot = await self._source.next_snapshot()
                if self._wanted:
                    self._wanted = False
                    await self.refresh(snapshot)
        finally:
            if self._fs_task is not None:
                self._fs_task.cancel()
            for cid in list(self._files):
                self._forget_files(cid)

    def _forget_files(self, cid: str) -> None:
        files = self._files.pop(cid, None)
        if files is not None:
            files.close()

    async def refresh(self, snapshot: Snapshot) -> None:
        """Read the extra figures of every container of ``snapshot`` and of the root."""
        started = time.process_time()
        layout = self._source.layout
        keep = {s.ref.container_id for s in snapshot.containers}
        for gone in [cid for cid in self._containers if cid not in keep]:
            self._containers.pop(gone)
            self._inspected.pop(gone, None)
            self._fs.pop(gone, None)
            self._forget_files(gone)
        # Concurrently: a container read from the engine waits on it, the others do not.
        read = await asyncio.gather(*(self._read(s, layout) for s in snapshot.containers))
        for sample, extras in zip(snapshot.containers, read, strict=True):
            self._containers[sample.ref.container_id] = extras
        self.root = self._read_root(layout)
        self.cost.read_seconds += time.process_time() - started
        self._maybe_walk(snapshot.ts)

    async def _read(self, sample: ContainerSample, layout: CgroupLayout | None) -> ContainerExtras:
        cid = sample.ref.container_id
        counters = None
        if layout is not None and sample.source == "cgroups" and sample.detail is not None:
            files = self._files.get(cid)
            if files is None or files.cgroup_path != sample.detail.cgroup_path:
                self._forget_files(cid)
                files = self._files[cid] = ExtraCgroupFiles(layout, sample.detail.cgroup_path)
            try:
                counters = files.read()
            except (OSError, ValueError):
                self._forget_files(cid)
        known = await self._inspect(cid)
        network: tuple[InterfaceStats, ...] | None = None
        if known is not None and known.pid_visible and not known.shared_network:
            network = read_net_dev(known.pid, self._proc)
        if counters is None or (network is None and not (known and known.shared_network)):
            raw = await self._stats_api().raw(cid) if self._docker is not None else None
            if raw is not None:
                counters = counters or counters_from_stats(raw)
                if network is None and not (known and known.shared_network):
                    network = from_stats_api(raw.get("networks"))
        return ContainerExtras(self._clock(), counters, network)

    def _stats_api(self) -> StatsApiReader:
        """The engine's stats API, through the engine's client (made on first use)."""
        assert self._docker is not None
        if self._stats is None:
            self._stats = StatsApiReader(self._docker())
        return self._stats

    async def _inspect(self, cid: str) -> _Inspected | None:
        known = self._inspected.get(cid)
        if known is not None and (not known.pid_visible or _alive(self._proc, known.pid)):
            return known
        if self._inspect_engine is None:
            return None
        try:
            data = await self._inspect_engine(cid)
        except (aiodocker.DockerError, aiohttp.ClientError):  # the engine gone: read later
            return None
        if data is None:
            return None
        state = data.get("State") or {}
        pid = int(state.get("Pid") or 0)
        mode = str((data.get("HostConfig") or {}).get("NetworkMode") or "")
        layer = ((data.get("GraphDriver") or {}).get("Data") or {}).get("UpperDir")
        volumes = [m["Source"] for m in data.get("Mounts") or []
                   if m.get("Type") == "volume" and m.get("Source")]
        known = _Inspected(
            started=str(state.get("StartedAt") or ""),
            pid=pid,
            pid_visible=pid > 0 and _in_cgroup(self._proc, pid, cid),
            shared_network=mode.startswith("container:"),
            paths=tuple(Path(p) for p in ([layer] if layer else []) + volumes),
        )
        self._inspected[cid] = known
        return known

    def _read_root(self, layout: CgroupLayout | None) -> RootExtras:
        reading = None
        if layout is not None:
            try:
                reading = read_root(layout)
            except (OSError, ValueError) as exc:
                log.debug("metrics.root_cgroup_unreadable", error=str(exc))
        return RootExtras(self._clock(), reading, read_net_dev(1, self._proc))

    def _maybe_walk(self, now: float) -> None:
        interval = self._config.cadvisor_fs_interval_seconds
        if interval <= 0 or now < self._fs_due:
            return
        if self._fs_task is not None and not self._fs_task.done():
            return
        self._fs_due = now + interval
        jobs = {cid: k.paths for cid, k in self._inspected.items() if k.paths}
        self._fs_task = asyncio.create_task(self._walk(jobs), name="cadvisor-fs-usage")

    async def _walk(self, jobs: dict[str, tuple[Path, ...]]) -> None:
        budget = self._config.cadvisor_fs_max_entries
        results = await asyncio.to_thread(_walk_all, jobs, budget, self.cost)
        self._fs.update(results)


def _walk_all(
    jobs: dict[str, tuple[Path, ...]], budget: int, cost: ExtrasCost
) -> dict[str, tuple[FsUsage, ...]]:
    """Every container's filesystem usage (runs in a worker thread)."""
    started = time.thread_time()
    devices = mount_devices()
    found: dict[str, tuple[FsUsage, ...]] = {}
    for cid, paths in jobs.items():
        try:
            found[cid] = tuple(filesystem_usage(paths, budget, devices))
        except BudgetExceeded as exc:
            if cid not in cost.fs_skipped:
                cost.fs_skipped.add(cid)
                log.warning("metrics.fs_usage_skipped", container=cid[:12], reason=str(exc))
        except OSError as exc:
            log.debug("metrics.fs_usage_failed", container=cid[:12], error=str(exc))
    cost.fs_seconds += time.thread_time() - started
    return found


def _alive(proc: str, pid: int) -> bool:
    return Path(f"{proc}/{pid}").exists()


def _in_cgroup(proc: str, pid: int, container_id: str) -> bool:
    """Whether ``pid`` as this process sees it is the container's (not another pid namespace's)."""
    try:
        return container_id in Path(f"{proc}/{pid}/cgroup").read_text()
    except OSError:
        return False
