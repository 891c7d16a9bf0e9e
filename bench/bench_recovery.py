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

`--crash-loop` measures instead how long the agent, with the default recovery settings,
takes to give up on a service without a restart policy that logs a fatal error and exits 3
seconds after each start: from the container's first death to
the `recovery-gave-up` event, with the actions each attempt took. The first death is taken
from the agent's first `down` verdict (events arrive within a fraction of a second).
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

from support import zoo  # noqa: E402
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


def crash_loop(base: Path, daemon: PrivateDockerd, factory: DeploymentFactory) -> None:
    """Default recovery settings against a service dying 3 s after each start."""
    looper = factory.make("looper", {"app": zoo.crash_looper(after=3)})
    config = merge(agent_config(base / "data-loop", factory.root, docker_host=daemon.host),
                   {"recovery": {"enabled": True}})
    agent = AgentProcess(config, base / "agent-loop")
    try:
        agent.start()
        wait_until(lambda: any(r["name"] == looper.name for r in
                               agent.api("GET", "/api/deployments").json()["items"]), 60)
        looper.up()  # started while the agent watches: wanted running

        def gave_up() -> list[dict[str, object]]:
            items: list[dict[str, object]] = agent.api(
                "GET", f"/api/events?kind=recovery-gave-up&deployment={looper.name}"
            ).json()["items"]
            return items

        event = wait_until(gave_up, 900, interval=0.5, message="gave up")[0]
        runs = agent.api("GET", f"/api/recoveries?deployment={looper.name}").json()["items"]
        started = list(reversed(runs))
        first_death = first_finish(agent, looper.name)
        print("\nCrash loop (exit 3 s after each start, no restart policy, default settings):")
        for run in started:
            actions = ", ".join(a["action"] for a in run["actions"]) or "none"
            print(f"  attempt {run['attempt']}: {run['outcome']:<8} actions: {actions:<9} "
                  f"at +{run['started_at'] - first_death:5.1f}s, took "
                  f"{run['finished_at'] - run['started_at']:4.1f}s")
        print(f"  gave up {float(str(event['ts'])) - first_death:.1f}s after the first crash")
    finally:
        agent.close()


def first_finish(agent: AgentProcess, name: str) -> float:
    """When the looper's container first died, from the first health change to down."""
    items = agent.api("GET", f"/api/events?kind=health-changed&deployment={name}"
                      ).json()["items"]
    downs = [float(e["ts"]) for e in items if "-> down" in str(e["message"])]
    return min(downs)


def main() -> None:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=20)
    parser.add_argument("--stopped", type=int, default=2)
    parser.add_argument("--crash-loop", action="store_true",
                        help="measure the crash-loop give-up time instead")
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
        if args.crash_loop:
            crash_loop(base, daemon, factory)
            return
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
