"""Faults inside the agent and a frozen daemon: supervised, reported, and recovered from."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from health.proxy import SocketProxy
from support.agent import RECOVERY_ON, AgentHandle, merge, running_agent
from support.deployments import DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.wait import async_wait_until

from .conftest import QUICK_SUPERVISION
from .test_engine_faults import healthz, problem_naming

pytestmark = pytest.mark.docker

SLEEPER = service("sleep 3600")
FREEZE_SECONDS = 60.0  # the daemon stays SIGSTOPped this long, through a recovery


async def test_a_failing_task_is_restarted_and_reported(
    proxy: SocketProxy, private_deployments: DeploymentFactory,
    agent_via_proxy: Callable[..., Any],
) -> None:
    site = private_deployments.make("store", {"web": SLEEPER})
    site.up()
    handle: AgentHandle = await agent_via_proxy()
    agent = handle.agent
    await async_wait_until(lambda: agent.stream.connected.is_set(), 60, message="connected")

    # A store fault: the desired-state table is gone, so every rescan fails.
    agent.db.execute("ALTER TABLE desired_states RENAME TO desired_states_away")

    problem = await async_wait_until(
        lambda: problem_naming(handle, "rescan: failed 3 times", "no such table"), 60,
        message="/healthz names the failing rescan task",
    )
    assert "OperationalError" in problem
    status = agent.supervisor.status["rescan"]
    assert status.starts >= status.failures >= 3  # restarted after each failure
    assert agent.stream.connected.is_set(), "the event stream is not affected"

    agent.db.execute("ALTER TABLE desired_states_away RENAME TO desired_states")

    async def healthy() -> bool:
        return (await healthz(handle))[0] == 200

    await async_wait_until(healthy, 60, message="/healthz back to 200 once the store works")
    assert agent.supervisor.status["rescan"].failures >= 3


def _runs(handle: AgentHandle, name: str) -> list[str]:
    rows = handle.agent.db.fetchall(
        "SELECT outcome FROM recovery_runs WHERE deployment = ? ORDER BY id", (name,))
    return [str(r["outcome"]) for r in rows]


async def test_daemon_frozen_during_a_recovery_is_recovered_afterwards(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    # Exits once (3) when told to; started again, it runs.
    job = service(
        "if [ -e /state/done ]; then exec sleep 3600; fi; "
        "until [ -e /state/go ]; do sleep 0.1; done; touch /state/done; exit 3",
        restart="no", volumes=[f"{state}:/state"],
    )
    site = private_deployments.make("frozen", {"web": SLEEPER, "job": job})
    site.up()
    overrides = merge(merge(QUICK_SUPERVISION, RECOVERY_ON), {
        "recovery": {"settle_seconds": 2, "attempt_budget": 20},
        "compose": {"timeout_seconds": 8},
        "health": {"sweep_interval_seconds": 2},
    })
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host, **overrides) as handle:
        async def verdict() -> str | None:
            rows = (await handle.get("/api/health"))["items"]
            return next((r["verdict"] for r in rows if r["deployment"] == site.name), None)

        await async_wait_until(lambda: _is(verdict, "healthy"), 60, message="healthy first")
        (state / "go").touch()
        await async_wait_until(lambda: _is(verdict, "degraded"), 60, message="job exited")

        pid = private_dockerd.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            await async_wait_until(lambda: _runs(handle, site.name), 30,
                                   message="a recovery run began while the daemon is frozen")
            await asyncio.sleep(FREEZE_SECONDS)  # the fault itself lasts this long
            # The agent stays responsive and says what is wrong meanwhile.
            assert (await handle.api.get("/api/deployments")).status_code == 200
            assert await problem_naming(handle, "sweep")
        finally:
            os.kill(pid, signal.SIGCONT)

        await async_wait_until(lambda: _is(verdict, "healthy"), 180,
                               message="recovered after the daemon thawed")
        await async_wait_until(lambda: "running" not in _runs(handle, site.name), 60,
                               message="every recovery run ended")
        outcomes = _runs(handle, site.name)
        assert outcomes[-1] == "recovered", outcomes

        async def healthz_ok() -> bool:
            return (await healthz(handle))[0] == 200

        await async_wait_until(healthz_ok, 60, message="/healthz back to 200")


async def _is(read: Callable[[], Any], value: str) -> bool:
    return bool(await read() == value)


START = r"/containers/[0-9a-f]+/start$"
RUN_DEADLINE = 8


async def test_a_recovery_stalled_by_the_engine_ends_by_its_deadline_and_recovers_after(
    tmp_path: Path, proxy: SocketProxy, private_deployments: DeploymentFactory,
    agent_via_proxy: Callable[..., Any],
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    job = service(
        "if [ -e /state/done ]; then exec sleep 3600; fi; "
        "until [ -e /state/go ]; do sleep 0.1; done; touch /state/done; exit 3",
        restart="no", volumes=[f"{state}:/state"],
    )
    site = private_deployments.make("wedged", {"web": SLEEPER, "job": job})
    site.up()
    handle: AgentHandle = await agent_via_proxy(**merge(RECOVERY_ON, {
        "recovery": {"settle_seconds": 1, "attempt_budget": 20,
                     "run_timeout_seconds": RUN_DEADLINE},
        "compose": {"timeout_seconds": 120},  # Compose alone would wait far longer
    }))

    async def verdict() -> str | None:
        rows = (await handle.get("/api/health"))["items"]
        return next((r["verdict"] for r in rows if r["deployment"] == site.name), None)

    await async_wait_until(lambda: _is(verdict, "healthy"), 60, message="healthy first")
    proxy.fault(START, "stall")  # the daemon takes the start and never answers
    (state / "go").touch()
    await async_wait_until(lambda: _is(verdict, "degraded"), 60, message="job exited")

    await async_wait_until(lambda: "timed-out" in _runs(handle, site.name), 120,
                           message="the stalled run ends by its deadline")
    assert proxy.faulted[START] >= 1, "the run waited on the stalled start"
    problem = await async_wait_until(
        lambda: problem_naming(handle, "recovery", site.name, "timed out"), 30,
        message="/healthz names the timed-out recovery",
    )
    assert f"did not end within {RUN_DEADLINE}s" in problem
    # The deployment's lock was released: the next attempt runs while the fault lasts.
    await async_wait_until(lambda: len(_runs(handle, site.name)) >= 2, 60,
                           message="a next attempt after the backoff")

    proxy.clear()
    await async_wait_until(lambda: _is(verdict, "healthy"), 120,
                           message="recovered once the engine answers")
    await async_wait_until(lambda: "running" not in _runs(handle, site.name), 60,
                           message="every recovery run ended")
    # The run in flight when the fault ended may have started the job and then run out
    # of time while verifying; the next one then finds nothing to do.
    assert set(_runs(handle, site.name)) <= {"timed-out", "failed", "recovered"}

    async def healthz_ok() -> bool:
        return (await healthz(handle))[0] == 200

    await async_wait_until(healthz_ok, 60, message="/healthz back to 200")
    assert await _is(verdict, "healthy")
