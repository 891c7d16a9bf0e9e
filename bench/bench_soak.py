"""Soak: containers crashing at random for minutes while the agent recovers them.

Run: `.venv/bin/python -m bench.bench_soak [--containers 50] [--minutes 10] [--crash-every 2]`
(not part of `make test` or `make bench`: it runs for minutes).

On a private Docker daemon of its own, ``--containers`` containers (deployments of ten
services, no restart policy) run under an agent with recovery on; every ``--crash-every``
seconds one container chosen at random crashes (its main process killed from outside
Docker), and the agent brings it back. At the
start and at the end (and each minute) it reports the agent's RSS, open file descriptors,
asyncio task count and the size of its SQLite files; none may grow without bound. It also
reports how many crashes there were, how many the agent recovered and /healthz's answer.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.kit import footprint, idle_fleet, recovery_outcomes, show
from support.agent import AgentProcess
from support.compose import crash_container, run_docker
from support.deployments import DeploymentFactory
from support.dockerd import PrivateDockerd
from support.images import ensure_busybox_image

PER_DEPLOYMENT = 10


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
        idle_fleet(factory, args.containers, PER_DEPLOYMENT, "soak")
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
        start = footprint(agent, data)
        show("start", start)

        crashes = 0
        ends = time.monotonic() + args.minutes * 60
        next_report = time.monotonic() + 60
        while time.monotonic() < ends:
            ids = run_docker("ps", "--quiet", "--filter", f"name={factory.prefix}",
                             docker_host=daemon.host).stdout.split()
            if ids:
                # A crash is the main process dying, not `docker kill` (a person's stop,
                # which the agent leaves stopped).
                with contextlib.suppress(AssertionError):
                    crash_container(rng.choice(ids), docker_host=daemon.host)
                    crashes += 1
            time.sleep(args.crash_every)
            if time.monotonic() >= next_report:
                show(f"{crashes:>5} cr", footprint(agent, data))
                next_report += 60
        time.sleep(30)  # let the last recoveries finish
        end = footprint(agent, data)
        show("end", end)
        running = len(run_docker("ps", "--quiet", "--filter", f"name={factory.prefix}",
                                 docker_host=daemon.host).stdout.split())
        print(f"\n{crashes} crashes in {args.minutes:g} min; {running}/{args.containers} "
              f"containers running at the end; recovery runs {recovery_outcomes(data)}")
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
