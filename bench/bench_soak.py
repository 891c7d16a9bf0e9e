"""Soak: containers crashing at random for minutes while the agent recovers them.

Run: `.venv/bin/python -m bench.bench_soak [--containers 50] [--minutes 10] [--crash-every 2]`
(not part of `make test` or `make bench`: it runs for minutes).

On a private Docker daemon of its own, ``--containers`` containers (deployments of ten
services, no restart policy) run under an agent with recovery on; every ``--crash-every``
seconds one container chosen at random is killed, and the agent brings it back. At the
start and at the end (and each minute) it reports the agent's RSS, open file descriptors,
asyncio task count and the size of its SQLite files; none may grow without bound. It also
reports how many crashes there were, how many the agent recovered and /healthz's answer.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.agent import AgentProcess  # noqa: E402
from support.compose import run_docker  # noqa: E402
from support.deployments import DeploymentFactory, service  # noqa: E402
from support.dockerd import PrivateDockerd  # noqa: E402
from support.images import ensure_busybox_image  # noqa: E402

PER_DEPLOYMENT = 10


def figures(agent: AgentProcess, data: Path) -> dict[str, Any]:
    """The agent's footprint now."""
    assert agent.proc is not None
    process = psutil.Process(agent.proc.pid)
    health = httpx.get(agent.url + "/healthz", timeout=30)
    body = health.json()
    db_bytes = sum(f.stat().st_size for f in data.glob("*.db*"))
    return {
        "rss_mb": process.memory_info().rss / 2**20,
        "fds": process.num_fds(),
        "tasks": body["agent"]["asyncio_tasks"],
        "sqlite_mb": db_bytes / 2**20,
        "healthz": health.status_code,
        "problems": body["problems"],
    }


def show(label: str, f: dict[str, Any]) -> None:
    """Print one line of figures."""
    print(f"{label:>8}  RSS {f['rss_mb']:6.1f} MB  fds {f['fds']:4d}  tasks {f['tasks']:4d}  "
          f"sqlite {f['sqlite_mb']:6.2f} MB  /healthz {f['healthz']} {f['problems'] or ''}",
          flush=True)


def recovered_runs(data: Path) -> dict[str, int]:
    """Recovery runs by outcome, read from the agent's store."""
    found: dict[str, int] = {}
    for path in data.glob("*.db"):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            for outcome, count in conn.execute(
                "SELECT outcome, count(*) FROM recovery_runs GROUP BY outcome"
            ):
                found[str(outcome)] = found.get(str(outcome), 0) + int(count)
    return found


def main() -> None:
    """Set up, soak, print, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--crash-every", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    work = Path(tempfile.mkdtemp(prefix="smsoak"))
    image = ensure_busybox_image()
    daemon = PrivateDockerd()
    agent: AgentProcess | None = None
    factory: DeploymentFactory | None = None
    try:
        daemon.start()
        daemon.load_image(image)
        factory = DeploymentFactory(root=work / "deployments", image=image,
                                    docker_host=daemon.host)
        factory.root.mkdir()
        print(f"starting {args.containers} containers ...", flush=True)
        for index in range(0, args.containers, PER_DEPLOYMENT):
            count = min(PER_DEPLOYMENT, args.containers - index)
            factory.make(f"soak{index // PER_DEPLOYMENT}",
                         {f"s{j}": service("sleep 86400", restart="no") for j in range(count)}
                         ).up(timeout=600)
        data = work / "data"
        config: dict[str, Any] = {
            "data_dir": str(data), "deployments_path": str(factory.root),
            "log_level": "warning", "docker": {"host": daemon.host},
            "recovery": {"enabled": True, "settle_seconds": 2, "attempt_budget": 1000,
                         "budget_window_seconds": 60, "backoff_initial_seconds": 1,
                         "backoff_max_seconds": 5},
        }
        agent = AgentProcess(config, work / "agent")
        agent.start()
        time.sleep(10)  # a benchmark may wait: let the agent settle before the baseline
        start = figures(agent, data)
        show("start", start)

        crashes = 0
        ends = time.monotonic() + args.minutes * 60
        next_report = time.monotonic() + 60
        while time.monotonic() < ends:
            ids = run_docker("ps", "--quiet", "--filter", f"name={factory.prefix}",
                             docker_host=daemon.host).stdout.split()
            if ids:
                run_docker("kill", rng.choice(ids), docker_host=daemon.host, check=False)
                crashes += 1
            time.sleep(args.crash_every)
            if time.monotonic() >= next_report:
                show(f"{crashes:>5} cr", figures(agent, data))
                next_report += 60
        time.sleep(30)  # let the last recoveries finish
        end = figures(agent, data)
        show("end", end)
        running = len(run_docker("ps", "--quiet", "--filter", f"name={factory.prefix}",
                                 docker_host=daemon.host).stdout.split())
        print(f"\n{crashes} crashes in {args.minutes:g} min; {running}/{args.containers} "
              f"containers running at the end; recovery runs {recovered_runs(data)}")
        for key in ("rss_mb", "fds", "tasks", "sqlite_mb"):
            print(f"  {key:10s} start {start[key]:8.2f}  end {end[key]:8.2f}  "
                  f"change {end[key] - start[key]:+8.2f}")
    finally:
        if agent is not None:
            agent.close()
        if factory is not None:
            factory.cleanup()
        daemon.teardown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
