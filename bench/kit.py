"""Shared pieces of the benchmarks that run an agent beside a Docker daemon: CPU windows,
percentiles, the agent's API and footprint, and fleets of idle deployments."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from support.agent import AgentProcess  # noqa: E402
from support.deployments import Deployment, DeploymentFactory, service  # noqa: E402

T = TypeVar("T")
# Docker's default pools hold 31 networks; a fleet needs one per project (a private daemon
# lives in its own network namespace, so these addresses collide with nothing).
ADDRESS_POOL = "base=10.128.0.0/9,size=24"


def parse_engine_time(value: str) -> float:
    """Seconds since the epoch from the engine's RFC 3339 time with nanoseconds."""
    head, _, frac = value.rstrip("Z").partition(".")
    base = datetime.fromisoformat(head + "+00:00").timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def cpu_seconds(process: psutil.Process) -> float:
    """User plus system CPU time of one process (plus its containerd, for a dockerd)."""
    total = 0.0
    for p in [process, *(c for c in process.children() if c.name() == "containerd")]:
        times = p.cpu_times()
        total += float(times.user + times.system)
    return total


def measure(processes: dict[str, psutil.Process], window: float) -> dict[str, float]:
    """CPU of each process over ``window`` seconds, as percent of one core."""
    start = {name: cpu_seconds(p) for name, p in processes.items()}
    began = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - began
    return {name: (cpu_seconds(p) - start[name]) / elapsed * 100 for name, p in processes.items()}


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


class Api:
    """The agent's API, authenticated."""

    def __init__(self, agent: AgentProcess) -> None:
        self.client = httpx.Client(
            base_url=agent.url, headers={"Authorization": f"Bearer {agent.token()}"}, timeout=30
        )

    def verdicts(self) -> dict[str, str]:
        """Verdict by deployment."""
        body = self.client.get("/api/health").json()
        return {i["deployment"]: i["verdict"] for i in body["items"]}

    def newest_transition(self, name: str) -> dict[str, Any]:
        """The newest history row of one deployment."""
        rows = self.client.get(
            f"/api/deployments/{name}/health/history", params={"limit": 1}
        ).json()["items"]
        return dict(rows[0]) if rows else {}

    def wait(self, predicate: Callable[[dict[str, str]], T], timeout: float, what: str,
             interval: float = 0.005) -> T:
        """Poll until ``predicate(verdicts)`` is truthy and return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate(self.verdicts())
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"timed out waiting for {what}")

    def all_healthy(self, names: Iterable[str], timeout: float) -> None:
        """Wait until every deployment in ``names`` is healthy."""
        wanted = set(names)
        self.wait(lambda v: wanted <= {n for n, x in v.items() if x == "healthy"},
                  timeout, "every deployment healthy", interval=0.5)


def footprint(agent: AgentProcess, data: Path) -> dict[str, Any]:
    """The agent's footprint now: RSS, fds, asyncio tasks, SQLite size, /healthz."""
    assert agent.proc is not None
    process = psutil.Process(agent.proc.pid)
    health = httpx.get(agent.url + "/healthz", timeout=30)
    body = health.json()
    db_bytes = sum(f.stat().st_size for f in data.glob("*.db*"))
    return {
        "rss_mb": process.memory_info().rss / 2**20,
        "fds": process.num_fds(),
        "threads": process.num_threads(),
        "tasks": body["agent"]["asyncio_tasks"],
        "sqlite_mb": db_bytes / 2**20,
        "healthz": health.status_code,
        "problems": body["problems"],
    }


def show(label: str, f: dict[str, Any]) -> None:
    """Print one line of footprint figures."""
    print(f"{label:>8}  RSS {f['rss_mb']:6.1f} MB  fds {f['fds']:4d}  tasks {f['tasks']:4d}  "
          f"threads {f['threads']:3d}  sqlite {f['sqlite_mb']:6.2f} MB  "
          f"/healthz {f['healthz']} {f['problems'] or ''}", flush=True)


def recovery_outcomes(data: Path) -> dict[str, int]:
    """Recovery runs by outcome, read from the agent's store."""
    found: dict[str, int] = {}
    for path in data.glob("*.db"):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            for outcome, count in conn.execute(
                "SELECT outcome, count(*) FROM recovery_runs GROUP BY outcome"
            ):
                found[str(outcome)] = found.get(str(outcome), 0) + int(count)
    return found


def idle_fleet(factory: DeploymentFactory, containers: int, per_deployment: int,
               prefix: str, *, workers: int = 1, timeout: float = 600) -> list[Deployment]:
    """Deployments of ``per_deployment`` busybox ``sleep`` services (no restart policy) holding
    ``containers`` containers in all, brought up with at most ``workers`` ``compose up`` at
    once."""
    made = []
    for index in range(0, containers, per_deployment):
        count = min(per_deployment, containers - index)
        made.append(factory.make(
            f"{prefix}{index // per_deployment}",
            {f"s{j}": service("sleep 86400", restart="no") for j in range(count)},
        ))
    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(pool.map(lambda d: d.up(timeout=timeout), made))
    return made
