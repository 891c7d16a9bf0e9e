"""Time to bring deployments back after a Docker daemon restart: stackmedic vs a blind script.

Run: `.venv/bin/python -m bench.bench_recovery [--deployments 20] [--stopped 2]`.

On a private Docker daemon, `--deployments` deployments without restart policies are up and
`--stopped` more were stopped by their user. The daemon is restarted (an orderly stop and a
start, as on a reboot) and then, side by side:

* blind: a script running `docker compose up -d` in every folder, one after another (what
  people put in cron @reboot);
* stackmedic with `boot_parallelism` 1 and with the default 4 (the agent was running before
  the restart and keeps running through it).

For each: seconds from the daemon answering again until every wanted deployment runs, and
how many deployments meant to stay stopped were started (the blind script starts them all).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.agent import AgentProcess, agent_config, merge  # noqa: E402
from support.deployments import Deployment, DeploymentFactory, service  # noqa: E402
from support.dockerd import PrivateDockerd  # noqa: E402
from support.images import ensure_busybox_image  # noqa: E402
from support.wait import wait_until  # noqa: E402


def running(deployment: Deployment) -> bool:
    """Whether the deployment's one service runs."""
    return deployment.states().get("app") == "running"


def restart_daemon(daemon: PrivateDockerd) -> float:
    """Orderly stop and start; return the moment it answers again."""
    daemon.stop()
    daemon.start()
    return time.monotonic()


def wait_all(wanted: list[Deployment], timeout: float = 600) -> None:
    """Wait until every wanted deployment runs."""
    wait_until(lambda: all(running(d) for d in wanted), timeout, interval=0.2,
               message="every wanted deployment running")


def blind(daemon: PrivateDockerd, wanted: list[Deployment], parked: list[Deployment]
          ) -> tuple[float, int]:
    """The cron @reboot script: compose up in every folder, in order."""
    back = restart_daemon(daemon)
    for deployment in sorted(wanted + parked, key=lambda d: d.name):
        deployment.up()
    wait_all(wanted)
    seconds = time.monotonic() - back
    wrongly_started = sum(1 for d in parked if running(d))
    return seconds, wrongly_started


def with_agent(base: Path, daemon: PrivateDockerd, factory: DeploymentFactory,
               wanted: list[Deployment], parked: list[Deployment], parallelism: int
               ) -> tuple[float, int]:
    """The agent watching through the restart."""
    for deployment in wanted:
        deployment.up()
    for deployment in parked:
        deployment.up()
    config = merge(agent_config(base / f"data-{parallelism}", factory.root,
                                docker_host=daemon.host),
                   {"recovery": {"enabled": True, "settle_seconds": 1,
                                 "boot_parallelism": parallelism,
                                 "verify_stable_seconds": 1}})
    agent = AgentProcess(config, base / f"agent-{parallelism}")
    try:
        agent.start()

        def desired(name: str) -> str | None:
            for row in agent.api("GET", "/api/deployments").json()["items"]:
                if row["name"] == name and row["desired"]:
                    return str(row["desired"]["state"])
            return None

        for deployment in wanted + parked:
            wait_until(lambda d=deployment: desired(d.name) == "running", 60)
        for deployment in parked:
            assert agent.cli("stop", deployment.name).returncode == 0
        back = restart_daemon(daemon)
        wait_all(wanted)
        seconds = time.monotonic() - back
        wrongly_started = sum(1 for d in parked if running(d))
        return seconds, wrongly_started
    finally:
        agent.close()


def main() -> None:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=20)
    parser.add_argument("--stopped", type=int, default=2)
    args = parser.parse_args()
    image = ensure_busybox_image()
    base = Path(tempfile.mkdtemp(prefix="smbench-"))
    daemon = PrivateDockerd()
    factory: DeploymentFactory | None = None
    try:
        daemon.start()
        daemon.load_image(image)
        factory = DeploymentFactory(root=base / "deployments", image=image,
                                    docker_host=daemon.host)
        factory.root.mkdir()
        wanted = [factory.make(f"w{i:02d}", {"app": service("sleep 3600")})
                  for i in range(args.deployments)]
        parked = [factory.make(f"s{i:02d}", {"app": service("sleep 3600")})
                  for i in range(args.stopped)]
        for deployment in wanted + parked:
            deployment.up()
        for deployment in parked:
            deployment.stop()
        results = {"blind compose up -d, sequential": blind(daemon, wanted, parked)}
        for parallelism in (1, 4):
            results[f"stackmedic, parallelism {parallelism}"] = with_agent(
                base, daemon, factory, wanted, parked, parallelism)
        baseline = results["blind compose up -d, sequential"][0]
        print(f"\nAfter a daemon restart: {args.deployments} deployments wanted running, "
              f"{args.stopped} stopped by their user")
        print(f"{'method':<36} {'seconds':>8} {'vs blind':>9} {'stopped ones started':>21}")
        for method, (seconds, wrong) in results.items():
            print(f"{method:<36} {seconds:>8.1f} {seconds / baseline:>8.2f}x "
                  f"{wrong:>10} of {args.stopped}")
    finally:
        if factory is not None:
            factory.cleanup()
        daemon.teardown()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
