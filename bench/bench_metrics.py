"""Cost of a /metrics scrape with and without the cAdvisor-compatible container series.

Run: `.venv/bin/python -m bench.bench_metrics [--rounds 200]`.
Builds the agent's registry over a snapshot of N containers (30, 100, 300) and times
`Metrics.render()`: the baseline is stackmedic's own container families, the other row
adds the cAdvisor families over the same snapshot. Prints milliseconds per scrape, the
exposition size, and the ratio to the baseline. No Docker needed: the figures are those of
building and formatting the families, which is all a scrape adds to a sample.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client.core import Metric

from stackmedic.metrics import Metrics
from stackmedic.metrics.cadvisor import CadvisorMetrics
from stackmedic.resources import ContainerRef, ContainerSample, Snapshot
from stackmedic.resources.models import SampleDetail
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
        full = Metrics([own, CadvisorMetrics(own.latest, facts.get)], host="h1")
        base_ms, base_size = timed(base.render, args.rounds)
        full_ms, full_size = timed(full.render, args.rounds)
        print(f"{n:>10} {'stackmedic (baseline)':>22} {base_ms:>10.2f} {base_size:>9} {1:>6.2f}")
        print(f"{n:>10} {'+ cAdvisor':>22} {full_ms:>10.2f} {full_size:>9} "
              f"{full_ms / base_ms:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
