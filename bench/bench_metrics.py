"""Cost of a /metrics scrape with and without the cAdvisor-compatible container series,
and of reading the cAdvisor figures the sample does not carry.

Run: `.venv/bin/python -m bench.bench_metrics [--rounds 200]`.
Builds the agent's registry over a snapshot of N containers (30, 100, 300) and times
`Metrics.render()`: the baseline is stackmedic's own container families, the next row
adds the core cAdvisor families over the same snapshot, the last all of them (network,
CPU user/system, CFS periods, swap, fail count, block I/O, filesystems, the root cgroup and
the machine). Prints milliseconds per scrape, the exposition size, and the ratio to the
baseline. Then the reads behind the extra families, per container-sample, beside the
sampler's own read of the same cgroup (what `bench.bench_resources` counts per
container-sample): the extra cgroup files and ``/proc/<pid>/net/dev``, on this machine's
root cgroup and this process; and the filesystem walk per 1,000 entries, on a tree it
writes. No Docker needed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.core import Metric

from stackmedic.metrics import Metrics
from stackmedic.metrics.cadvisor import CadvisorMetrics
from stackmedic.metrics.cadvisor_extra import ContainerExtras, FixedExtras
from stackmedic.resources import ContainerRef, ContainerSample, Snapshot
from stackmedic.resources.cgroup_extra import DeviceIo, ExtraCgroupFiles, ExtraCounters
from stackmedic.resources.cgroup_reader import CgroupReader
from stackmedic.resources.cgroups import CgroupLayout, ContainerCgroupFiles, detect_layout
from stackmedic.resources.fs_usage import FsUsage, walk_usage
from stackmedic.resources.models import SampleDetail
from stackmedic.resources.netdev import InterfaceStats, read_net_dev
from stackmedic.resources.prometheus import metric_families


@dataclass
class Facts:
    """What the observed state knows about a container."""

    name: str
    image: str
    started_at: float | None
    labels: dict[str, str] = field(default_factory=dict)


class ResourceSource:
    """The resource monitor's own families over a fixed snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def latest(self) -> Snapshot:
        """The snapshot, as the resource monitor hands it to the cAdvisor families."""
        return self.snapshot

    def metric_families(self) -> list[Metric]:
        """The families of the snapshot."""
        return metric_families(self.snapshot, ())


def snapshot(n: int) -> tuple[Snapshot, dict[str, Facts]]:
    samples, facts = [], {}
    for i in range(n):
        cid = f"{i:064x}"
        project, service = f"site{i // 3}", f"svc{i % 3}"
        detail = SampleDetail(
            usage_bytes=60_000_000 + i, working_set_bytes=40_000_000, rss_bytes=30_000_000,
            cache_bytes=20_000_000, throttled_seconds=1.5, cpu_quota_us=50_000,
            cpu_period_us=100_000, memory_limit_bytes=128 * 1024**2, cgroup_path=f"/docker/{cid}",
        )
        samples.append(ContainerSample(
            ts=1_800_000_000.0, ref=ContainerRef(cid, project, service, f"{project}-{service}-1"),
            source="cgroups", cpu_core_percent=12.0, cpu_percent=24.0, cpu_limit_cores=0.5,
            cpu_usage_seconds=100.0 + i, memory_bytes=40_000_000, memory_limit_bytes=128 * 1024**2,
            memory_percent=30.0, oom_kills=0, detail=detail,
        ))
        facts[cid] = Facts(f"{project}-{service}-1", "nginx:1.27", 1_799_990_000.0, {
            "com.docker.compose.project": project, "com.docker.compose.service": service,
        })
    return Snapshot(1_800_000_000.0, None, tuple(samples)), facts


def extras(snap: Snapshot) -> FixedExtras:
    counters = ExtraCounters(60.0, 30.0, 4000, 12, 0, 0, (DeviceIo(254, 0, 10**6, 2 * 10**6),),
                             9 * 10**7, 10**6)
    eth0 = InterfaceStats("eth0", 10**9, 10**6, 0, 0, 10**8, 10**5, 0, 0)
    fs = (FsUsage("/dev/vda", 5_000_000, 10**11, 10**7, 9 * 10**6),)
    ids = [s.ref.container_id for s in snap.containers]
    return FixedExtras({cid: ContainerExtras(snap.ts, counters, (eth0,)) for cid in ids},
                       dict.fromkeys(ids, fs))


def timed(render: Callable[[], bytes], rounds: int) -> tuple[float, int]:
    size = len(render())
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        render()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, size


def main(argv: list[str] | None = None) -> int:
    """Time scrapes at several container counts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    print(f"{'containers':>10} {'families':>22} {'ms/scrape':>10} {'bytes':>9} {'ratio':>6}")
    for n in (30, 100, 300):
        snap, facts = snapshot(n)
        own = ResourceSource(snap)
        base = Metrics([own], host="h1")
        core = Metrics([own, CadvisorMetrics(own.latest, facts.get)], host="h1")
        full = Metrics([own, CadvisorMetrics(own.latest, facts.get, extras(snap))], host="h1")
        base_ms, base_size = timed(base.render, args.rounds)
        print(f"{n:>10} {'stackmedic (baseline)':>22} {base_ms:>10.2f} {base_size:>9} {1:>6.2f}")
        for label, registry in (("+ cAdvisor core", core), ("+ cAdvisor all", full)):
            ms, size = timed(registry.render, args.rounds)
            print(f"{n:>10} {label:>22} {ms:>10.2f} {size:>9} {ms / base_ms:>6.2f}")
    print()
    print_read_costs(args.rounds * 10)
    return 0


def a_container_cgroup() -> tuple[CgroupLayout, ContainerCgroupFiles] | None:
    """The cgroup files of some running Docker container on this machine, if any."""
    layout = detect_layout(Path("/sys/fs/cgroup"))
    if layout is None:
        return None
    base = layout.root if layout.version == 2 else layout.root / "memory"
    for found in [*base.glob("docker/*"), *base.glob("system.slice/docker-*.scope")]:
        cid = found.name.removeprefix("docker-").removesuffix(".scope")
        files = layout.container_files(cid)
        if files is not None and (found / "cgroup.procs").read_text().split():
            return layout, files
    return None


def cpu_ms(action: Callable[[], object], rounds: int) -> float:
    started = time.process_time()
    for _ in range(rounds):
        action()
    return (time.process_time() - started) / rounds * 1000


def read_costs(rounds: int) -> dict[str, float]:
    """CPU ms per container-sample of each read, on a running container of this machine."""
    found = a_container_cgroup()
    if found is None:
        return {}
    layout, files = found
    assert files.directory is not None
    pid = int((files.directory / "cgroup.procs").read_text().split()[0])
    reader = CgroupReader(files)
    reader.open()
    extra = ExtraCgroupFiles(layout, files.cgroup_path)
    try:
        costs = {
            "sampler read (counters)": cpu_ms(reader.read, rounds),
            "+ extra cgroup files (user/system, CFS, I/O)": cpu_ms(extra.read, rounds),
            "+ /proc/<pid>/net/dev": cpu_ms(lambda: read_net_dev(pid), rounds),
        }
    finally:
        reader.close()
        extra.close()
    with tempfile.TemporaryDirectory() as tmp:
        for d in range(20):
            folder = Path(tmp) / f"d{d}"
            folder.mkdir()
            for f in range(99):
                (folder / f"f{f}").write_bytes(b"x" * 100)
        costs["filesystem walk, per 1,000 entries"] = cpu_ms(
            lambda: walk_usage(Path(tmp), 10**6), max(1, rounds // 100)) / 2.0
    return costs


def print_read_costs(rounds: int) -> None:
    """CPU per container-sample of the sampler's read and of the extra reads, side by side."""
    costs = read_costs(rounds)
    if not costs:
        print("no running container's cgroup found: read costs not measured")
        return
    sampler = costs["sampler read (counters)"]
    print(f"{'read, per container-sample':44} {'CPU ms':>8} {'x sampler':>10}")
    for name, ms in costs.items():
        print(f"{name:44} {ms:8.4f} {ms / sampler if sampler else float('inf'):10.2f}")
    print("  (the extra reads run after each sample in their own loop, not in the sampler's;"
          " the filesystem walk every metrics.cadvisor_fs_interval_seconds, in a thread)")


if __name__ == "__main__":
    sys.exit(main())
