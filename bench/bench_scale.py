"""Scale, measured: an agent with its shipped defaults watching many containers.

Run: `.venv/bin/python -m bench.bench_scale [--containers 1000] [--kills 20] [--window 60]`
(not part of `make test` or `make bench`: at 1,000 containers it runs for about 40 minutes
on a 2-core VM).

On a private Docker daemon of its own, ``--containers`` busybox ``sleep`` containers
(deployments of ``--per-deployment`` services, no restart policy) are brought up with at most
``--workers`` ``compose up`` at once. The agent runs with the shipped defaults: the harness
sets only its folders, the daemon's socket, the API port, a boot id file and an email channel
to a real SMTP server on loopback that counts the notices. Then, in order:

* idle: the agent's CPU (percent of one core), RSS, open fds, threads and asyncio tasks over
  ``--window`` seconds, beside the daemon's CPU (dockerd plus its containerd) in the same
  window and in one before the agent started;
* sampling: the resource sampler's own wall time per tick (its
  ``stackmedic_resource_sample_duration_seconds``, read once per tick over a few ticks)
  divided by the containers it sampled: the cost per container-sample at this scale;
* detection: ``--kills`` single containers crashed one after another, each in another
  deployment: the main process killed from outside Docker, as a segfault or the OOM killer
  does (a ``docker kill`` is a person's stop on purpose, which the agent leaves alone);
  latency from the container's death (the engine's FinishedAt) to the new verdict recorded
  by the agent and to the verdict first seen polling ``GET /api/health``;
* crash: ``--crash-share`` of all containers crashed at once the same way,
  ``--crash-per-deployment`` in each of as many deployments (not those of the detection
  kills, whose problems may still be open); the time until every container runs again (the
  agent's recovery: these have no restart policy) and every verdict is healthy, the recovery
  runs by outcome, and the problem notices per crashed deployment (one grouped notice each
  is right, not one per container).

Everything lives in a temporary folder and on the private daemon, removed at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.kit import (
    ADDRESS_POOL,
    Api,
    footprint,
    idle_fleet,
    measure,
    parse_engine_time,
    percentile,
    recovery_outcomes,
    show,
)
from bench.reboot_agent import shipped_config
from support.agent import AgentProcess
from support.compose import crash_container, run_docker
from support.deployments import Deployment, DeploymentFactory
from support.dockerd import PrivateDockerd
from support.images import ensure_busybox_image
from support.lifecycle import email_channel, mails, outbox_idle
from support.servers import SmtpSink
from support.wait import wait_until

SAMPLE_GAUGE = re.compile(r"^stackmedic_resource_sample_duration_seconds(?:\{[^}]*\})? (\S+)$",
                          re.M)


def running(daemon: PrivateDockerd, prefix: str) -> int:
    """How many of our containers run now."""
    return len(run_docker("ps", "--quiet", "--filter", f"name={prefix}",
                          docker_host=daemon.host).stdout.split())


def container(deployment: Deployment, service: str) -> str:
    """The container name Compose gives a service's first replica."""
    return f"{deployment.name}-{service}-1"


def within(predicate: Callable[[], object], timeout: float, since: float) -> float | None:
    """Seconds from ``since`` until ``predicate()`` held, or None if it did not in time."""
    try:
        wait_until(predicate, timeout, interval=0.5)
    except AssertionError:
        return None
    return time.monotonic() - since


def seconds(value: float | None) -> str:
    """A duration for the report."""
    return "(never, within the time allowed)" if value is None else f"{value:.1f} s"


def healthy_all(api: Api, fleet: list[Deployment]) -> bool:
    """Whether every deployment's verdict is healthy."""
    verdicts = api.verdicts()
    return all(verdicts.get(d.name) == "healthy" for d in fleet)


def kind(subject: str) -> str:
    """What a notice is, from its subject's words in capitals (PROBLEM, RESOLVED, ...)."""
    return " ".join(w.strip(":[]") for w in subject.split() if w.strip(":[]").isupper()) or "?"


def main_pids(names: list[str], host: str) -> list[int]:
    """The host pids of the containers' main processes (killing one is a crash to Docker)."""
    out = run_docker("inspect", "--format", "{{.State.Pid}}", *names, docker_host=host).stdout
    return [int(p) for p in out.split()]


def sample_cost(agent: AgentProcess, containers: int, ticks: int = 4) -> list[float]:
    """Milliseconds of sampler wall time per container-sample, one figure per tick."""
    seen: list[float] = []
    last = None
    deadline = time.monotonic() + 30 * ticks
    while len(seen) < ticks and time.monotonic() < deadline:
        found = SAMPLE_GAUGE.search(httpx.get(agent.url + "/metrics", timeout=30).text)
        if found and found.group(1) != last:
            last = found.group(1)
            seen.append(float(last) / containers * 1000)
        time.sleep(1)
    return seen


def healthy(name: str) -> Callable[[dict[str, str]], bool]:
    """A predicate on verdicts: ``name`` is healthy."""
    return lambda verdicts: verdicts.get(name) == "healthy"


def changed(name: str) -> Callable[[dict[str, str]], float]:
    """A predicate on verdicts: the time now once ``name`` is no longer healthy, else 0."""
    return lambda verdicts: time.time() if verdicts.get(name) != "healthy" else 0.0


def detection(api: Api, targets: list[tuple[Deployment, str]], host: str
              ) -> tuple[list[float], list[float]]:
    """Kill each target once, one after another; both latency lists (seconds)."""
    recorded, polled = [], []
    for deployment, service in targets:
        name = container(deployment, service)
        api.wait(healthy(deployment.name), 600, f"{deployment.name} healthy")
        crash_container(name, host)
        seen_at = api.wait(changed(deployment.name), 60, f"{deployment.name} verdict change")
        finished = parse_engine_time(run_docker(
            "inspect", "-f", "{{.State.FinishedAt}}", name, docker_host=host).stdout.strip())
        row = api.newest_transition(deployment.name)
        recorded.append(float(row["ts"]) - finished)
        polled.append(seen_at - finished)
        time.sleep(0.5)
    return recorded, polled


def latency_line(label: str, values: list[float]) -> str:
    """p50 / p95 / max of latencies in milliseconds."""
    return (f"  {label:18s} p50 {statistics.median(values) * 1000:7.1f} ms   "
            f"p95 {percentile(values, 0.95) * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms")


def main() -> None:
    """Set up, measure, print, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=1000)
    parser.add_argument("--per-deployment", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4, help="compose up at once")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--crash-share", type=float, default=0.1)
    parser.add_argument("--crash-per-deployment", type=int, default=2)
    parser.add_argument("--settle", type=float, default=60.0,
                        help="seconds the agent runs before the idle window")
    parser.add_argument("--keep-log", type=Path, help="copy the agent's log here at the end")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="smscale"))
    image = ensure_busybox_image()
    daemon = PrivateDockerd(extra_args=[f"--default-address-pool={ADDRESS_POOL}"])
    sink = SmtpSink().start()
    agent: AgentProcess | None = None
    try:
        daemon.start()
        daemon.load_image(image)
        assert daemon.pid is not None
        dockerd = psutil.Process(daemon.pid)
        factory = DeploymentFactory(root=work / "deployments", image=image,
                                    docker_host=daemon.host)
        factory.root.mkdir()
        print(f"starting {args.containers} containers ({args.workers} compose up at once) ...",
              flush=True)
        began = time.monotonic()
        fleet = idle_fleet(factory, args.containers, args.per_deployment, "sc",
                           workers=args.workers, timeout=1800)
        held = running(daemon, factory.prefix)
        print(f"  {held} running in {len(fleet)} deployments after "
              f"{time.monotonic() - began:.0f} s", flush=True)

        print(f"daemon alone for {args.window:g} s ...", flush=True)
        alone = measure({"dockerd": dockerd}, args.window)["dockerd"]

        boot_id = work / "boot_id"
        boot_id.write_text(f"{uuid.uuid4()}\n")
        data = work / "data"
        config: dict[str, Any] = shipped_config(data, factory.root, daemon.host, boot_id)
        config["notifications"] = {"channels": email_channel(sink)["channels"]}
        agent = AgentProcess(config, work / "agent")
        started = time.monotonic()
        agent.start(timeout=300)
        api = Api(agent)
        api.all_healthy((d.name for d in fleet), 600)
        print(f"  agent: every deployment healthy {time.monotonic() - started:.1f} s after "
              "its start", flush=True)
        time.sleep(args.settle)  # a benchmark may wait: first sight, first sweeps, first ticks

        print(f"agent watching, idle, for {args.window:g} s ...", flush=True)
        assert agent.proc is not None
        process = psutil.Process(agent.proc.pid)
        idle = measure({"dockerd": dockerd, "agent": process}, args.window)
        before = footprint(agent, data)
        show("idle", before)
        costs = sample_cost(agent, held)

        detect_on = fleet[: max(1, min(args.kills, len(fleet) // 2))]
        targets = [(detect_on[i % len(detect_on)],
                    f"s{(i // len(detect_on)) % args.per_deployment}") for i in range(args.kills)]
        print(f"detection: {args.kills} kills ...", flush=True)
        recorded, polled = detection(api, targets, daemon.host)
        api.all_healthy((d.name for d in fleet), 600)
        wait_until(lambda: not recovery_outcomes(data).get("running"), 600, interval=0.5,
                   message="no recovery run in progress")
        wait_until(lambda: outbox_idle(agent), 120, interval=0.5, message="outbox idle")

        victims_count = max(1, round(held * args.crash_share))
        rest = fleet[len(detect_on):]
        per = args.crash_per_deployment
        crashed = rest[: -(-victims_count // per)]
        victims = [container(d, f"s{j}") for d in crashed for j in range(per)][:victims_count]
        runs_before = recovery_outcomes(data)
        mails_before = len(mails(sink))
        print(f"crash: {len(victims)} containers at once in {len(crashed)} deployments ...",
              flush=True)
        pids = main_pids(victims, daemon.host)
        crash_at = time.monotonic()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        killed_in = time.monotonic() - crash_at
        all_dead = within(lambda: running(daemon, factory.prefix) <= held - len(victims), 60,
                          crash_at)
        all_running = within(lambda: running(daemon, factory.prefix) == held, 900, crash_at)
        all_healthy = within(lambda: healthy_all(api, fleet), 300, crash_at)
        within(lambda: outbox_idle(agent), 300, crash_at)
        time.sleep(30)  # a benchmark may wait: resolved notices come after the grouping window
        within(lambda: outbox_idle(agent), 300, crash_at)
        after = footprint(agent, data)
        new_mails = mails(sink)[mails_before:]
        runs = Counter(recovery_outcomes(data))
        runs.subtract(runs_before)
        per_deployment = {d.name: sum(1 for m in new_mails if m.problem and m.names(d.name))
                          for d in crashed}
        kinds = Counter(tuple(sorted(Counter(kind(m.subject) for m in new_mails
                                             if m.names(d.name)).items())) for d in crashed)
        examples = {kind(m.subject): m.subject for m in new_mails}
        others = [m.subject for m in new_mails
                  if m.problem and not any(m.names(d.name) for d in crashed)]

        print()
        print(f"{held} containers in {len(fleet)} deployments (asked {args.containers}), "
              f"agent with shipped defaults")
        print(f"idle ({args.window:g} s window, {args.settle:g} s after every deployment was "
              "healthy)")
        print(f"  agent CPU          {idle['agent']:6.3f} % of one core")
        print(f"  agent RSS          {before['rss_mb']:6.1f} MB   fds {before['fds']}   "
              f"threads {before['threads']}   asyncio tasks {before['tasks']}")
        print(f"  dockerd CPU        without agent {alone:6.3f} %   with agent "
              f"{idle['dockerd']:6.3f} %   caused by the agent {idle['dockerd'] - alone:+6.3f} %")
        if costs:
            print(f"  resource sampling  {statistics.median(costs):.4f} ms wall per "
                  f"container-sample (median of {len(costs)} ticks; "
                  f"{statistics.median(costs) * held:.0f} ms a tick)")
        print(f"detection latency, container death -> verdict ({args.kills} kills)")
        print(latency_line("recorded by agent", recorded))
        print(latency_line("seen via API poll", polled))
        print(f"crash of {len(victims)} containers ({args.crash_share:.0%}) in "
              f"{len(crashed)} deployments at once (killed within {killed_in:.1f} s)")
        print(f"  Docker saw them all dead after {seconds(all_dead)}")
        print(f"  all {held} running again after {seconds(all_running)} "
              f"({running(daemon, factory.prefix)} run now), every verdict healthy after "
              f"{seconds(all_healthy)}")
        print(f"  recovery runs      {dict((k, v) for k, v in runs.items() if v)}")
        spread = Counter(per_deployment.values())
        print(f"  problem notices per crashed deployment: "
              f"{', '.join(f'{n} mail(s): {c} deployments' for n, c in sorted(spread.items()))}")
        print(f"  problem notices about other deployments: {len(others)}; all mails since the "
              f"crash: {len(new_mails)}: {dict(Counter(kind(m.subject) for m in new_mails))}")
        for mix, count in kinds.most_common():
            print(f"  mails naming a crashed deployment: {dict(mix)} for {count} of them")
        for example in examples.values():
            print(f"    e.g. {example}")
        for key in ("rss_mb", "fds", "tasks", "threads"):
            print(f"  {key:10s} idle {before[key]:8.1f}  after the crash {after[key]:8.1f}")
    finally:
        if agent is not None:
            agent.close()
            if args.keep_log is not None:
                shutil.copyfile(agent.log_path, args.keep_log)
        # Killed, not removed one by one: removing a thousand containers takes the daemon
        # minutes, and the whole daemon goes anyway.
        daemon.teardown(graceful=False)
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
