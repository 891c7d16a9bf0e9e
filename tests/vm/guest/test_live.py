"""One cgroup v2 set-up on a real kernel: what the agent reports, reads and does, against
the engine's own account.

Runs inside the test VM (``tests/vm/test_vm.py`` boots it), once per set-up: rootful Docker
with the systemd and the cgroupfs driver, rootless Docker, rootful and rootless Podman. One
agent and one test per set-up, since every start costs tens of seconds under emulation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiodocker
import httpx
import pytest

from metrics.exposition import Exposition
from metrics.test_cadvisor_docker import (
    CounterSeries,
    engine_stats,
    engine_working_set,
    read_time,
    scrape,
)
from podman.test_core_paths import mail_config, mails_with
from support.agent import RECOVERY_ON, AgentHandle, merge, running_agent
from support.compose import crash_container
from support.deployments import DeploymentFactory, service
from support.servers import SmtpSink
from support.wait import async_assert_holds, async_wait_until

from .setups import Setup, record

MIB = 1024 * 1024
MEMORY_LIMIT = 96 * MIB
FILL = 48 * MIB
WINDOW_SECONDS = 10.0
UP_TIMEOUT = 900  # a Compose start under emulation on a busy host takes minutes
RESOURCES = {"resources": {"sample_interval_seconds": 1, "limits_refresh_seconds": 2}}
OOMER = "dd if=/dev/zero of=/dev/shm/fill bs=1M count=16 2>/dev/null; tail /dev/zero; sleep 3600"


class Phases:
    """Prints how long each part of a set-up's run took (the guest's console shows it)."""

    def __init__(self, setup: Setup) -> None:
        self.setup, self.started = setup, time.monotonic()

    def done(self, what: str) -> None:
        print(f"vm: {self.setup.name}: {what} at {time.monotonic() - self.started:.0f} s",
              flush=True)


async def stats_of(setup: Setup, docker: aiodocker.Docker, container: str) -> dict[str, Any]:
    """The engine's own stats of a container; where it answers with none, what its command
    line and its service's log say about it."""
    try:
        stats = await engine_stats(docker, container)
    except (ValueError, aiodocker.DockerError) as exc:
        stats, error = {}, f"{type(exc).__name__}: {exc}"
    else:
        error = ""
    if stats:
        return stats
    cli, journal = await asyncio.to_thread(_what_the_engine_says, setup, container)
    raise AssertionError(
        f"{setup.name}: the stats API gave no figures ({error or 'an empty answer'}); "
        f"`stats --no-stream`: {cli}; the service's log: {journal}")


def _what_the_engine_says(setup: Setup, container: str) -> tuple[str, str]:
    """``stats --no-stream`` of the container and the tail of the engine service's log."""
    cli = subprocess.run(setup.cli("stats", "--no-stream", "--format", "json", container),
                         capture_output=True, text=True, timeout=120, check=False)
    unit = ["journalctl", "--no-pager", "-n", "40", "-u", f"{setup.kind}.service"]
    journal = subprocess.run(setup.as_user([unit[0], "--user", *unit[1:]])
                             if setup.rootless else unit,
                             capture_output=True, text=True, timeout=60, check=False)
    return (f"{cli.returncode} {cli.stdout[-800:]} {cli.stderr[-800:]}",
            f"{journal.stdout[-3000:]} {journal.stderr[-300:]}")


def cgroup_of(pid: int) -> str:
    """A process's cgroup v2 path, as /proc says it (what cAdvisor's ``id`` is)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:]
    raise AssertionError(f"no cgroup v2 line for pid {pid}")


def container_cgroup(setup: Setup, pid: int) -> str:
    """The container's cgroup: Podman (crun, systemd driver) runs its processes in a
    ``container`` child of the scope, which holds the limits and the totals."""
    path = cgroup_of(pid)
    if setup.kind == "podman":
        assert path.endswith(".scope/container"), path
        return path.removesuffix("/container")
    return path


@pytest.mark.timeout(1800)  # the engine's start under emulation is part of it
async def test_report_figures_limits_oom_and_a_crash(
    tmp_path: Path, setup: Setup, factory: DeploymentFactory
) -> None:
    phases = Phases(setup)
    fill = f"(dd if=/dev/zero bs=1048576 count={FILL // MIB} 2>/dev/null; sleep 3600)"
    site = factory.make("load", {
        "burner": service("while :; do :; done", cpus=0.5),
        "filler": service(f"{fill} | tail -c {FILL} > /dev/null", mem_limit=MEMORY_LIMIT),
        "pinned": service("sleep 3600", cpuset="0"),
        "oomer": service(OOMER, cpus=0.5, mem_limit="64m", memswap_limit="64m"),
    })
    crashy = factory.make("crashy", {"web": service("sleep 3600")})
    site.up(timeout=UP_TIMEOUT)
    crashy.up(timeout=UP_TIMEOUT)
    phases.done("deployments up")
    sink = SmtpSink().start()
    settings = merge(merge(RECOVERY_ON, mail_config(sink)), RESOURCES)
    async with (
        _stopped_after(sink),
        running_agent(tmp_path / "data", factory.root, docker_host=setup.host,
                      **settings) as started,
        aiodocker.Docker(url=setup.host) as docker,
        _fresh_connections(started) as handle,
    ):
        phases.done("agent started")
        ids: dict[str, Any] = {}
        for cid in site.container_ids():
            inspect = await docker.containers.get(cid)
            ids[inspect["Config"]["Labels"]["com.docker.compose.service"]] = inspect
        want = {name: container_cgroup(setup, int(c["State"]["Pid"]))
                for name, c in ids.items()}
        for name, path in want.items():
            assert path == "/" + setup.cgroup.format(id=ids[name].id), (name, path)

        async def reported() -> dict[str, Any] | None:
            host: dict[str, Any] = (await handle.api.get("/healthz")).json()["host"]
            return host if host["cgroup"]["example"] else None

        host = await async_wait_until(reported, 300, message="a container read from its cgroup")
        engine, cgroup = host["engine"], host["cgroup"]
        assert (engine["kind"], engine["rootless"]) == (setup.kind, setup.rootless), engine
        assert (cgroup["version"], cgroup["driver"], cgroup["reader"]) == (
            2, setup.driver, "v2"), cgroup
        every = list(want.values())
        for cid in crashy.container_ids():
            pid = int((await docker.containers.get(cid))["State"]["Pid"])
            every.append(container_cgroup(setup, pid))
        assert cgroup["example"] in {f"/sys/fs/cgroup{p}" for p in every}, cgroup
        assert host["resources"]["source"] == "cgroups", host["resources"]
        assert host["problems"] == [], host["problems"]

        project = {"container_label_com_docker_compose_project": site.name}

        def labels(name: str) -> dict[str, str]:
            return {**project, "container_label_com_docker_compose_service": name}

        async def all_sampled() -> Exposition | None:
            exp = await scrape(handle)
            full = exp.samples("container_memory_working_set_bytes", **labels("filler"))
            seen = all(exp.samples("container_cpu_usage_seconds_total", **labels(n))
                       for n in want)
            oom = exp.samples("stackmedic_container_oom_kills_total", service="oomer")
            return exp if seen and full and full[0].value >= FILL and oom and \
                oom[0].value >= 1 else None

        first = await async_wait_until(all_sampled, 300, interval=0.5,
                                       message="every container sampled, the OOM seen")
        assert first is not None
        phases.done("every container sampled")
        for name, path in want.items():  # cAdvisor's id is the cgroup path
            series = first.one("container_cpu_usage_seconds_total", **labels(name), cpu="total")
            assert series.labels["id"] == path, (name, series.labels)

        # CPU of the burner over one window, ours against the engine's counter.
        series = CounterSeries(handle, labels("burner"))
        await series.record_until(lambda: series.latest() > 0)
        before = await stats_of(setup, docker, ids["burner"].id)
        t0 = read_time(before)
        await series.record_until(lambda: series.latest() >= t0 + WINDOW_SECONDS)
        after = await stats_of(setup, docker, ids["burner"].id)
        t1 = read_time(after)
        await series.record_until(lambda: series.latest() > t1)
        ours = (series.at(t1) - series.at(t0)) / (t1 - t0)
        used = (after["cpu_stats"]["cpu_usage"]["total_usage"]
                - before["cpu_stats"]["cpu_usage"]["total_usage"])
        theirs = used / 1e9 / (t1 - t0)
        print(f"{setup.name}: cpu rate ours {ours:.4f} engine {theirs:.4f}")
        assert 0 < theirs <= 0.5 * 1.05
        assert ours == pytest.approx(theirs, rel=0.05)

        phases.done("CPU window compared")
        # Working set and limits.
        exp = await scrape(handle)
        filler = exp.one("container_memory_working_set_bytes", **labels("filler"))
        stats = await stats_of(setup, docker, ids["filler"].id)
        print(f"{setup.name}: working set ours {filler.value:.0f} "
              f"engine {engine_working_set(stats):.0f}")
        assert filler.value == pytest.approx(engine_working_set(stats), rel=0.05)
        assert exp.value("container_spec_memory_limit_bytes", **labels("filler")) == \
            MEMORY_LIMIT == stats["memory_stats"]["limit"]
        assert exp.value("container_spec_cpu_quota", **labels("burner")) == 50_000
        assert exp.value("container_spec_cpu_period", **labels("burner")) == 100_000
        cores = {s.labels["service"]: s.value
                 for s in exp.samples("stackmedic_container_cpu_limit_cores",
                                      deployment=site.name)}
        assert cores["burner"] == 0.5 and cores["pinned"] == 1.0, cores

        # One OOM kill is one, at every later sample too.
        def oom_kills(e: Exposition) -> float:
            return e.value("stackmedic_container_oom_kills_total", service="oomer")

        assert oom_kills(exp) == 1

        async def still_one() -> bool:
            return oom_kills(await scrape(handle)) == 1

        await async_assert_holds(still_one, 3, message="the OOM kill counted once")
        resources = handle.agent.resources.stats()
        assert resources["containers_via_stats_api"] == 0
        assert resources["stats_api_calls"] == 0

        out = os.environ.get("STACKMEDIC_VM_OUT")
        if os.environ.get("STACKMEDIC_VM_RECORD") and out:
            record(setup, ids["oomer"].id, Path(out), note=(
                f"A Compose service with `cpus: 0.5`, `mem_limit: 64m` (no swap) running "
                f"`{OOMER}`: its `tail` was OOM-killed once. In the cgroup v2 test VM "
                f"(tests/vm), set-up {setup.name}."))

        phases.done("limits, OOM kill and recording checked")
        # A crash (no one's stop) is told and recovered.
        await async_wait_until(lambda: _healthy(handle, crashy.name), 300,
                               message="crashy healthy before the crash")
        crash_container(crashy.container_ids()[0], docker_host=setup.host)
        down = await async_wait_until(lambda: mails_with(sink, crashy.name), 300,
                                      message="the crash mailed")
        assert "137" in down[0].text()
        await async_wait_until(lambda: crashy.states() == {"web": "running"}, 300,
                               message="stackmedic brought web back")
        await async_wait_until(lambda: _healthy(handle, crashy.name), 300,
                               message="healthy after the recovery")
        runs = await handle.get(f"/api/recoveries?deployment={crashy.name}")
        assert runs["items"], "a recovery run is recorded"
        phases.done("crash recovered")


@contextlib.asynccontextmanager
async def _fresh_connections(handle: AgentHandle) -> AsyncIterator[AgentHandle]:
    """The agent's API with a new connection per request: under emulation a call to the
    engine can outlast the server's keep-alive, and a reused connection it closed fails."""
    async with httpx.AsyncClient(base_url=handle.api.base_url, headers=handle.api.headers,
                                 timeout=120,
                                 limits=httpx.Limits(max_keepalive_connections=0)) as api:
        yield AgentHandle(handle.agent, api)


@contextlib.asynccontextmanager
async def _stopped_after(sink: SmtpSink) -> AsyncIterator[None]:
    try:
        yield
    finally:
        sink.stop()


async def _healthy(handle: Any, name: str) -> bool:
    found = (await handle.get(f"/api/deployments/{name}/health"))["verdict"]
    return bool(found == "healthy")
