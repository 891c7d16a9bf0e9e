"""What following container logs costs the agent, beside the same agent with it off.

Run: `.venv/bin/python -m bench.bench_logs [--loggers 50] [--quiet 50] [--window 20]
[--kills 10]`.

On a private Docker daemon of its own (the test kit's), two agent runs with shipped
defaults apart from `logs.enabled` (the baseline is `false`), each:

* CPU per 1,000 lines/s: `--loggers` containers each print about 20 lines a second (none
  matching a rule); the agent's CPU (percent of one core) over `--window` seconds, divided
  by the lines per second it read (the API's per-container counters);
* memory at 100 followed containers: the agent's RSS with `--loggers` + `--quiet`
  containers (plus the victim's two) running;
* detection under a flood: one container prints about 50,000 lines a second (`seq` bursts)
  while a `victim` container is killed `--kills` times; the latency from its death to the
  verdict the agent recorded, p50 and p95.

Everything it creates is removed at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bench.bench_health import Api, detection, measure, percentile  # noqa: E402
from support.agent import AgentProcess  # noqa: E402
from support.compose import run_docker  # noqa: E402
from support.deployments import Deployment, DeploymentFactory, service  # noqa: E402
from support.dockerd import PrivateDockerd  # noqa: E402
from support.images import ensure_busybox_image  # noqa: E402

PER_DEPLOYMENT = 25
LOGGER = 'while :; do echo "INFO handled request $$RANDOM in 12 ms"; usleep 50000; done'
FLOOD = "while :; do seq 1 5000; usleep 100000; done"
BOUNDED_LOGS = {"driver": "json-file", "options": {"max-size": "10m", "max-file": "2"}}


def make_many(factory: DeploymentFactory, prefix: str, count: int, command: str) -> None:
    """``count`` containers running ``command``, in deployments of ``PER_DEPLOYMENT``."""
    index = 0
    while count > 0:
        size = min(PER_DEPLOYMENT, count)
        factory.make(f"{prefix}{index}", {
            f"s{j}": service(command, logging=BOUNDED_LOGS) for j in range(size)
        }).up(timeout=600)
        count -= size
        index += 1


def lines_read(api: Api, names: list[str]) -> int:
    """Lines the agent has read so far from the containers of ``names``."""
    total = 0
    for name in names:
        body = api.client.get(f"/api/deployments/{name}/logs").json()
        total += sum(int(c["lines"]) for c in body.get("containers", []))
    return total


def printed_per_second(flood: Deployment, host: str) -> float:
    """Lines the flood container printed per second over two seconds that just passed."""
    container = flood.compose("ps", "--quiet", "flood").stdout.strip()
    now = time.time()
    out = run_docker("logs", "--since", f"{now - 3:.3f}", "--until", f"{now - 1:.3f}",
                     container, docker_host=host, timeout=120).stdout
    return out.count("\n") / 2


def run_agent(work: Path, factory: DeploymentFactory, host: str, victim: Deployment,
              flood: Deployment, args: argparse.Namespace, dockerd: psutil.Process, *,
              logs: bool) -> dict[str, Any]:
    """One agent run: CPU and line rate, RSS, detection under the flood."""
    config: dict[str, Any] = {
        "data_dir": str(work / f"data-{logs}"), "deployments_path": str(factory.root),
        "log_level": "warning", "docker": {"host": host}, "logs": {"enabled": logs},
    }
    agent = AgentProcess(config, work / f"agent-{logs}")
    agent.start()
    try:
        api = Api(agent)
        names = sorted(d.name for d in factory.made if d is not flood)
        api.wait(lambda v: set(names) <= {n for n, x in v.items() if x == "healthy"}, 180,
                 "every deployment healthy")
        time.sleep(3)  # followers started, first lines read
        assert agent.proc is not None
        process = psutil.Process(agent.proc.pid)
        loggers = [n for n in names if "-log" in n]
        read_before = lines_read(api, loggers)
        began = time.monotonic()
        cpu = measure({"agent": process}, args.window)["agent"]
        rate = (lines_read(api, loggers) - read_before) / (time.monotonic() - began)
        rss = process.memory_info().rss
        flood.up()
        time.sleep(3)
        flood_rate = printed_per_second(flood, host)
        flooded = measure({"agent": process, "dockerd": dockerd}, args.window / 2)
        recorded, _ = detection(api, victim, args.kills, host)
        flood.stop(timeout=0)
        api.client.close()
        return {"cpu": cpu, "rate": rate, "rss": rss, "recorded": recorded,
                "flood_agent": flooded["agent"], "flood_dockerd": flooded["dockerd"],
                "flood_rate": flood_rate, "load": os.getloadavg()[0]}
    finally:
        agent.terminate()
        agent.close()


def main() -> None:
    """Set up, measure both runs, print side by side, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loggers", type=int, default=50)
    parser.add_argument("--quiet", type=int, default=50)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="smbench"))
    image = ensure_busybox_image()
    daemon = PrivateDockerd()
    factory: DeploymentFactory | None = None
    try:
        daemon.start()
        daemon.load_image(image)
        host = daemon.host
        factory = DeploymentFactory(root=work / "deployments", image=image, docker_host=host)
        factory.root.mkdir()
        print(f"starting {args.loggers} loggers and {args.quiet} quiet containers ...",
              flush=True)
        victim = factory.make("victim", {"web": service("sleep 86400"),
                                         "target": service("sleep 86400")})
        victim.up()
        make_many(factory, "log", args.loggers, LOGGER)
        make_many(factory, "quiet", args.quiet, "sleep 86400")
        flood = factory.make("flood", {"flood": service(FLOOD, logging=BOUNDED_LOGS)})
        assert daemon.pid is not None
        dockerd = psutil.Process(daemon.pid)
        runs = {}
        for logs in (False, True):
            print(f"agent with logs.enabled: {str(logs).lower()} ...", flush=True)
            runs[logs] = run_agent(work, factory, host, victim, flood, args, dockerd, logs=logs)
        off, on = runs[False], runs[True]
        followed = args.loggers + args.quiet + 2
        print()
        print(f"{'':38s} {'logs off':>12s} {'logs on':>12s} {'on - off':>12s}")
        print(f"{'agent CPU, % of one core':38s} {off['cpu']:12.2f} {on['cpu']:12.2f} "
              f"{on['cpu'] - off['cpu']:+12.2f}")
        print(f"{'lines read per second':38s} {off['rate']:12.0f} {on['rate']:12.0f}")
        per_k = (on["cpu"] - off["cpu"]) / (on["rate"] / 1000) if on["rate"] else float("nan")
        print(f"{'CPU per 1,000 lines/s, % of a core':38s} {'':12s} {per_k:12.2f}")
        print(f"{f'agent RSS at {followed} containers, MB':38s} {off['rss'] / 2**20:12.1f} "
              f"{on['rss'] / 2**20:12.1f} {(on['rss'] - off['rss']) / 2**20:+12.1f}")
        for label, key in (("agent CPU during the flood, %", "flood_agent"),
                           ("dockerd CPU during the flood, %", "flood_dockerd")):
            print(f"{label:38s} {off[key]:12.2f} {on[key]:12.2f} {on[key] - off[key]:+12.2f}")
        print(f"{'flood, lines printed per second':38s} {off['flood_rate']:12.0f} "
              f"{on['flood_rate']:12.0f}")
        print(f"{'host load average (1 min), 2 cores':38s} {off['load']:12.1f} {on['load']:12.1f}")
        for label, share in (("p50", 0.5), ("p95", 0.95)):
            values = [percentile(run["recorded"], share) * 1000 for run in (off, on)]
            print(f"{f'detection {label} under a flood, ms':38s} {values[0]:12.1f} "
                  f"{values[1]:12.1f} {values[1] - values[0]:+12.1f}")
        print(f"(median of {args.kills} kills each: "
              f"{statistics.median(off['recorded']) * 1000:.1f} / "
              f"{statistics.median(on['recorded']) * 1000:.1f} ms)")
    finally:
        if factory is not None:
            factory.cleanup()
        daemon.teardown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
