"""Health detection latency and idle cost of an agent watching many containers.

Run: `.venv/bin/python -m bench.bench_health [--containers 100] [--kills 20] [--window 30]`.

It runs on a private Docker daemon of its own (the test kit's), so that the daemon's CPU
is what this benchmark causes and not what other work on the host does; `--main-daemon`
uses the host's daemon instead.

* Detection: a `victim` deployment's container crashes `--kills` times (its main process is
  killed from outside Docker, as a segfault ends it); each time the
  latency from the container's death (the engine's FinishedAt) to the new verdict is taken
  twice: when the agent recorded the transition (its history row) and when a client polling
  `GET /api/health` first saw it (an upper bound, includes polling).
* Idle cost: with `--containers` running containers in deployments the agent watches
  (default settings: 30 s sweep), the agent process's CPU (percent of one core) and RSS over
  `--window` seconds, and the Docker daemon's CPU (dockerd plus its containerd) in the same
  window beside two windows without the agent (before it starts and after it stops); the
  difference is what the agent costs the daemon.

Everything it creates lives in a temporary folder and under a unique project prefix, and is
removed at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.kit import Api, measure, parse_engine_time, percentile
from support.agent import AgentProcess
from support.compose import crash_container, run_docker
from support.deployments import Deployment, DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.images import ensure_busybox_image

SERVICES_PER_DEPLOYMENT = 20
MAIN_DOCKERD_PIDFILE = Path("/var/run/docker.pid")


def detection(
    api: Api, victim: Deployment, kills: int, host: str | None
) -> tuple[list[float], list[float]]:
    """Kill the victim's target container ``kills`` times; return both latency lists."""
    recorded, polled = [], []
    for _ in range(kills):
        api.wait(lambda v: v.get(victim.name) == "healthy", 60, "victim healthy")
        target = victim.compose("ps", "--quiet", "target").stdout.strip()
        # A crash, as Docker sees one; a `docker kill` would be a person's stop.
        crash_container(target, docker_host=host)
        seen_at = api.wait(
            lambda v: v.get(victim.name) != "healthy" and time.time(), 30, "victim verdict change"
        )
        finished = parse_engine_time(
            run_docker(
                "inspect", "-f", "{{.State.FinishedAt}}", target, docker_host=host
            ).stdout.strip()
        )
        row = api.newest_transition(victim.name)
        recorded.append(float(row["ts"]) - finished)
        polled.append(seen_at - finished)
        if run_docker("inspect", "-f", "{{.State.Running}}", target,
                      docker_host=host).stdout.strip() != "true":
            run_docker("start", target, docker_host=host)  # recovery may have done it
    return recorded, polled


def main() -> None:
    """Set up, measure, print, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument(
        "--main-daemon",
        action="store_true",
        help="use the host's Docker daemon (noisy if it has other work)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="smbench"))
    image = ensure_busybox_image()
    daemon = None if args.main_daemon else PrivateDockerd()
    agent: AgentProcess | None = None
    factory: DeploymentFactory | None = None
    try:
        if daemon is not None:
            daemon.start()
            daemon.load_image(image)
        host = daemon.host if daemon else None
        factory = DeploymentFactory(root=work / "deployments", image=image, docker_host=host)
        factory.root.mkdir()
        print(f"starting {args.containers} containers ...", flush=True)
        victim = factory.make(
            "victim", {"web": service("sleep 86400"), "target": service("sleep 86400")}
        )
        victim.up()
        remaining, index = args.containers - 2, 0
        while remaining > 0:
            count = min(SERVICES_PER_DEPLOYMENT, remaining)
            factory.make(
                f"idle{index}", {f"s{j}": service("sleep 86400") for j in range(count)}
            ).up(timeout=600)
            remaining -= count
            index += 1
        pid = daemon.pid if daemon else int(MAIN_DOCKERD_PIDFILE.read_text().strip())
        assert pid is not None
        dockerd = psutil.Process(pid)

        print(f"dockerd alone for {args.window:g} s ...", flush=True)
        before = measure({"dockerd": dockerd}, args.window)["dockerd"]

        config: dict[str, Any] = {
            "data_dir": str(work / "data"),
            "deployments_path": str(factory.root),
            "log_level": "warning",
        }
        if host:
            config["docker"] = {"host": host}
        agent = AgentProcess(config, work / "agent")
        agent.start()
        api = Api(agent)
        names = {d.name for d in factory.made}
        api.wait(
            lambda v: names <= {n for n, x in v.items() if x == "healthy"},
            120,
            "every deployment healthy",
        )

        print(f"detection: {args.kills} kills ...", flush=True)
        recorded, polled = detection(api, victim, args.kills, host)
        api.wait(lambda v: v.get(victim.name) == "healthy", 60, "victim healthy")
        api.client.close()
        time.sleep(5)  # let the restarts' aftermath settle before measuring idle

        print(f"agent watching, idle, for {args.window:g} s ...", flush=True)
        assert agent.proc is not None
        agent_process = psutil.Process(agent.proc.pid)
        watching = measure({"dockerd": dockerd, "agent": agent_process}, args.window)
        rss = agent_process.memory_info().rss
        agent.terminate()
        agent = None

        print(f"dockerd alone again for {args.window:g} s ...", flush=True)
        after = measure({"dockerd": dockerd}, args.window)["dockerd"]
        baseline = (before + after) / 2
        running = len(
            run_docker(
                "ps", "--quiet", "--filter", f"name={factory.prefix}", docker_host=host
            ).stdout.split()
        )

        print()
        print(f"detection latency, container death -> verdict ({args.kills} kills)")
        for label, values in (("recorded by agent", recorded), ("seen via API poll", polled)):
            print(
                f"  {label:18s} p50 {statistics.median(values) * 1000:6.1f} ms   "
                f"p95 {percentile(values, 0.95) * 1000:6.1f} ms   "
                f"max {max(values) * 1000:6.1f} ms"
            )
        print(f"idle cost with {running} running containers ({args.window:g} s windows)")
        print(f"  agent CPU          {watching['agent']:6.3f} % of one core")
        print(f"  agent RSS          {rss / 2**20:6.1f} MB")
        which = "host's daemon" if daemon is None else "private daemon"
        print(
            f"  dockerd CPU ({which}) without agent {before:6.3f} % / {after:6.3f} %   "
            f"with agent {watching['dockerd']:6.3f} %"
        )
        print(
            f"  dockerd CPU caused by the agent  {watching['dockerd'] - baseline:+6.3f} % "
            "of one core (with minus mean without)"
        )
    finally:
        if agent is not None:
            agent.close()
        if factory is not None:
            factory.cleanup()
        if daemon is not None:
            daemon.teardown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
