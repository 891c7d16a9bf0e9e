"""Resource collector cost: cgroup files vs the engine's stats API, side by side.

Run: `.venv/bin/python -m bench.bench_resources [--containers 100] [--rounds 50]`.
Starts N idle busybox containers (labelled, removed at the end), then measures, on the same
containers:

* the agent's cgroup collector with kept-open descriptors (`os.pread`), and reopening files;
* the agent's stats-API fallback (one-shot requests through aiodocker);
* `docker stats --no-stream` (client CPU from the child's rusage, engine CPU from the CPU
  times of dockerd, containerd and the containerd shims, minus an idle window of equal length);
* a whole agent tick (host + containers + SQLite history + rules) at N and N/10 containers,
  from which the CPU share at 10 s sampling and the 1,000-container figure are extrapolated.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiodocker
import psutil

from stackmedic.resources import ContainerRef, ResourceMonitor, ResourcesConfig, detect_layout
from stackmedic.resources.cgroup_reader import CgroupReader
from stackmedic.resources.sampler import ContainerSampler, HostShape
from stackmedic.resources.stats_api import StatsApiReader
from stackmedic.store import Database

IMAGE = "stackmedic-bench:busybox"
LABEL = "stackmedic.bench.resources"
MAX_CONTAINERS = 500
INTERVAL = 10.0
TARGET_CONTAINERS = 1000


@dataclass
class Row:
    """One collector's cost per container-sample, in milliseconds of CPU."""

    name: str
    agent_ms: float
    engine_ms: float
    engine_gross_ms: float = 0.0
    wall_seconds: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.agent_ms + self.engine_ms


def docker_cli(*args: str) -> str:
    """Run the docker CLI and return stdout; raise on failure."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"docker {args[0]} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def ensure_image() -> None:
    """Import a static-busybox image offline unless present."""
    found = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True)
    if found.returncode == 0:
        return
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add("/bin/busybox", arcname="bin/busybox")
        for applet in ("sh", "sleep"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    subprocess.run(
        ["docker", "import", "--change", 'ENTRYPOINT ["/bin/sh","-c"]', "-", IMAGE],
        input=buffer.getvalue(),
        capture_output=True,
        check=True,
    )


@contextmanager
def containers(count: int) -> Iterator[list[str]]:
    """Start `count` idle labelled containers; remove them all afterwards."""
    run_id = uuid.uuid4().hex[:10]
    args = ["run", "-d", "--network", "none", "--label", f"{LABEL}={run_id}", IMAGE, "sleep 1d"]
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            ids = list(pool.map(lambda _: docker_cli(*args), range(count)))
        yield ids
    finally:
        left = docker_cli("ps", "-aq", "--filter", f"label={LABEL}={run_id}")
        if left:
            docker_cli("rm", "-f", *left.split())


def engine_processes() -> list[psutil.Process]:
    """dockerd, its containerd and every containerd shim."""
    wanted = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2")
    found = []
    for proc in psutil.process_iter(["name", "status"]):
        if proc.info["name"] in wanted and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def engine_cpu_seconds(procs: list[psutil.Process]) -> float:
    """Summed user+system CPU of the engine processes (vanished ones count 0)."""
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def children_cpu_seconds() -> float:
    """CPU used by finished child processes (the docker CLI)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_cgroup_reads(ids: list[str], rounds: int, *, reopen: bool) -> float:
    """Agent CPU ms per container-sample for reading counters from the cgroup files."""
    layout = detect_layout(Path("/sys/fs/cgroup"))
    assert layout is not None, "no cgroup hierarchy"
    files = [layout.container_files(cid) for cid in ids]
    readers = [CgroupReader(f) for f in files if f is not None]
    if not reopen:
        for reader in readers:
            reader.open()
    try:
        started = time.process_time()
        for _ in range(rounds):
            for reader in readers:
                if reopen:
                    reader.open()
                reader.read()
                if reopen:
                    reader.close()
        return (time.process_time() - started) / (rounds * len(readers)) * 1000
    finally:
        for reader in readers:
            reader.close()


async def measure_sampler(ids: list[str], rounds: int) -> float:
    """Agent CPU ms per container-sample through the full collector (limits, CPU % math)."""
    sampler = ContainerSampler(layout=detect_layout(Path("/sys/fs/cgroup")), stats_api=None)
    refs = [ContainerRef(cid, "bench", "svc", cid[:12]) for cid in ids]
    shape = HostShape(psutil.cpu_count() or 1, psutil.virtual_memory().total)
    try:
        await sampler.sample(refs, 0.0, shape)
        started = time.process_time()
        for i in range(rounds):
            await sampler.sample(refs, float(i), shape)
        return (time.process_time() - started) / (rounds * len(refs)) * 1000
    finally:
        sampler.close()


async def background_rate(procs: list[psutil.Process], windows: int = 5) -> float:
    """Engine CPU seconds per second while we do nothing (median of short idle windows)."""
    rates = []
    for _ in range(windows):
        mark, started = engine_cpu_seconds(procs), time.perf_counter()
        await asyncio.sleep(1.0)
        rates.append((engine_cpu_seconds(procs) - mark) / (time.perf_counter() - started))
    return sorted(rates)[len(rates) // 2]


async def measure_engine(
    label: str, work: Callable[[], Awaitable[None]], samples: int, procs: list[psutil.Process]
) -> Row:
    """Run `work` (which samples `samples` containers) and charge client and engine CPU to it.

    The engine is shared with whatever else runs on the host, so the engine's background CPU
    rate, measured in idle windows just before, is subtracted (gross figure kept as well).
    """
    rate = await background_rate(procs)
    client_start, child_start = time.process_time(), children_cpu_seconds()
    engine_start, wall_start = engine_cpu_seconds(procs), time.perf_counter()
    await work()
    wall = time.perf_counter() - wall_start
    gross = engine_cpu_seconds(procs) - engine_start
    client = time.process_time() - client_start + children_cpu_seconds() - child_start
    net = max(0.0, gross - rate * wall)
    return Row(label, client / samples * 1000, net / samples * 1000, gross / samples * 1000, wall)


async def measure_tick(
    refs: list[ContainerRef], rounds: int, ring_size: int
) -> tuple[float, float, float, float]:
    """CPU ms and wall ms per whole agent tick; RSS (MB) before the first tick and once the
    rings are full (ring_size ticks on a clock advanced by the interval)."""
    with tempfile.TemporaryDirectory() as folder:
        db = Database(Path(folder) / "bench.db")
        fake_now = [time.time()]
        config = ResourcesConfig(source="cgroups", ring_size=ring_size)
        monitor = ResourceMonitor(config, db, None, clock=lambda: fake_now[0])
        monitor.set_targets(refs)
        rss_before = psutil.Process().memory_info().rss / 1e6
        try:
            cpu_total = wall_total = 0.0
            for i in range(max(rounds + 1, ring_size)):
                fake_now[0] += INTERVAL
                cpu0, wall0 = time.process_time(), time.perf_counter()
                await monitor.sample_once()
                if 1 <= i <= rounds:
                    cpu_total += time.process_time() - cpu0
                    wall_total += time.perf_counter() - wall0
            rss = psutil.Process().memory_info().rss / 1e6
            return cpu_total / rounds * 1000, wall_total / rounds * 1000, rss_before, rss
        finally:
            await monitor.close()
            db.close()


async def measure_idle_overhead(seconds: float) -> float:
    """CPU % of one core used by a started monitor between ticks (no containers)."""
    with tempfile.TemporaryDirectory() as folder:
        db = Database(Path(folder) / "idle.db")
        monitor = ResourceMonitor(ResourcesConfig(sample_interval_seconds=3600), db, None)
        await monitor.start()
        await monitor.next_snapshot(timeout=10)
        started = time.process_time()
        await asyncio.sleep(seconds)
        used = time.process_time() - started
        await monitor.close()
        db.close()
        return used / seconds * 100


async def run(count: int, rounds: int, stats_rounds: int) -> dict[str, float]:
    ensure_image()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count * 8 + 256)), hard))
    print(f"starting {count} idle containers ...", flush=True)
    with containers(count) as ids:
        refs = [ContainerRef(cid, "bench", f"svc{i}", f"bench-{i}") for i, cid in enumerate(ids)]
        procs = engine_processes()
        rows = [
            Row(
                "cgroup files, kept fds + pread", measure_cgroup_reads(ids, rounds, reopen=False), 0
            ),
            Row(
                "cgroup files, reopened per read", measure_cgroup_reads(ids, rounds, reopen=True), 0
            ),
            Row("agent collector (cgroups, full)", await measure_sampler(ids, rounds), 0),
        ]
        async with aiodocker.Docker() as client:
            reader = StatsApiReader(client, concurrency=32)

            async def one_shot() -> None:
                for _ in range(stats_rounds):
                    await asyncio.gather(*(reader.read(cid) for cid in ids))

            await reader.one_shot_supported()
            rows.append(
                await measure_engine(
                    "stats API one-shot (fallback)", one_shot, stats_rounds * count, procs
                )
            )

        async def cli() -> None:
            for _ in range(stats_rounds):
                await asyncio.to_thread(docker_cli, "stats", "--no-stream", *ids)

        rows.append(
            await measure_engine("docker stats --no-stream", cli, stats_rounds * count, procs)
        )
        tick_cpu, tick_wall, rss_before, rss = await measure_tick(refs, rounds, ring_size=360)
        small = refs[: max(1, count // 10)]
        small_cpu, _, _, _ = await measure_tick(small, rounds, ring_size=10)
        idle = await measure_idle_overhead(5.0)
    memory = (rss_before, rss)
    return report(rows, count, len(small), tick_cpu, tick_wall, small_cpu, memory, idle)


def report(
    rows: list[Row],
    count: int,
    small_count: int,
    tick_cpu: float,
    tick_wall: float,
    small_cpu: float,
    memory: tuple[float, float],
    idle: float,
) -> dict[str, float]:
    rss_before, rss = memory
    rss_per_container = max(0.0, rss - rss_before) / count
    rss_target = rss_before + rss_per_container * TARGET_CONTAINERS
    base = rows[0].total_ms
    print(f"\nper container-sample CPU cost, {count} containers (ms)")
    print(
        f"{'collector':34} {'agent/client':>12} {'engine net':>11} {'(gross)':>9}"
        f" {'total':>9} {'x kept-fd':>10} {'x agent':>8}"
    )
    for row in rows:
        ratio = row.total_ms / base if base else float("inf")
        versus_agent = row.total_ms / rows[2].total_ms if rows[2].total_ms else float("inf")
        print(
            f"{row.name:34} {row.agent_ms:12.4f} {row.engine_ms:11.4f} {row.engine_gross_ms:9.3f}"
            f" {row.total_ms:9.4f} {ratio:10.1f} {versus_agent:8.1f}"
        )
    for row in rows[3:]:
        print(f"  {row.name}: {row.wall_seconds:.1f} s wall for all its rounds")
    print(
        "  engine = CPU of dockerd + containerd + shims while sampling, net of their idle rate;"
        " agent collector = what the monitor runs per container (counters, limits, CPU % math)"
    )
    cli_row = rows[-1]
    per_container = (tick_cpu - small_cpu) / (count - small_count) if count > small_count else 0.0
    fixed = max(0.0, tick_cpu - per_container * count)
    at_target = fixed + per_container * TARGET_CONTAINERS
    share = tick_cpu / (INTERVAL * 1000) * 100 + idle
    share_target = at_target / (INTERVAL * 1000) * 100 + idle
    print(f"\nwhole agent tick (host + {count} containers + SQLite history + rules)")
    print(
        f"  CPU per tick: {tick_cpu:.2f} ms (wall {tick_wall:.2f} ms);"
        f" idle between ticks {idle:.3f} %"
    )
    print(
        f"  fit from {small_count} and {count} containers:"
        f" {fixed:.2f} ms + {per_container:.4f} ms/container"
    )
    print(
        f"  at {INTERVAL:g} s sampling: {share:.3f} % of one core for {count} containers"
        " (measured tick cost / interval + measured idle cost; extrapolated, not a long run)"
    )
    print(
        f"  at {INTERVAL:g} s sampling: {share_target:.3f} % of one core for {TARGET_CONTAINERS}"
        " containers (linear extrapolation of the fit above)"
    )
    print(
        f"  RSS of this process with {count} containers and full 360-point rings: {rss:.1f} MB"
        f" ({rss_before:.1f} MB before the first tick, {rss_per_container * 1000:.1f} kB more"
        f" per container; {TARGET_CONTAINERS} containers extrapolated: {rss_target:.1f} MB)"
    )
    print(
        "  (the process holds Python, aiodocker, psutil, pydantic, prometheus_client and SQLite;"
        " the agent's API server and other monitors come on top)"
    )
    print(
        f"\nratio docker stats --no-stream / agent collector: "
        f"{cli_row.total_ms / rows[2].total_ms:.0f}x"
        f" (one-shot stats API / agent collector: {rows[3].total_ms / rows[2].total_ms:.0f}x)"
    )
    figures = {row.name: row.total_ms for row in rows}
    figures.update(
        tick_cpu_ms=tick_cpu,
        cpu_percent_at_interval=share,
        cpu_percent_at_1000=share_target,
        rss_mb=rss,
        rss_mb_at_1000=rss_target,
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=50, help="cgroup collector rounds")
    parser.add_argument("--stats-rounds", type=int, default=3, help="stats API rounds")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    if not 2 <= args.containers <= MAX_CONTAINERS:
        parser.error(f"--containers must be between 2 and {MAX_CONTAINERS}")
    figures = asyncio.run(run(args.containers, max(2, args.rounds), max(1, args.stats_rounds)))
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
