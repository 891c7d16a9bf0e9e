"""Real workloads against the real engine: a crash loop fails fast, learns and gives up with
its log tail; a loop that ended is not restarted; a sidecar follows its namespace owner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackmedic.cli.diagnose import render_diagnosis
from support import zoo
from support.agent import RECOVERY_ON, AgentHandle, merge, running_agent
from support.compose import crash_container, run_docker
from support.deployments import DeploymentFactory
from support.wait import async_wait_until

pytestmark = pytest.mark.docker


async def events_of(handle: AgentHandle, name: str, kind: str) -> list[dict[str, Any]]:
    body = await handle.get("/api/events", params={"deployment": name, "kind": kind})
    items: list[dict[str, Any]] = body["items"]
    return items


async def test_crash_looper_escalates_then_gives_up_with_its_log_tail(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("looper", {"app": zoo.crash_looper(after=3)})
    settings = merge(RECOVERY_ON, {"recovery": {"attempt_budget": 5,
                                                "verify_timeout_seconds": 60}})
    async with running_agent(tmp_path / "data", deployments.root, **settings) as handle:
        await handle.wait_listed(site.name)
        site.up()  # a person starts it while the agent watches: it is wanted running
        gave_up = await async_wait_until(
            lambda: events_of(handle, site.name, "recovery-gave-up"), 120, message="gave up")
        runs = (await handle.get("/api/recoveries", params={"deployment": site.name}))["items"]
        runs.reverse()  # oldest first
        assert [r["outcome"] for r in runs] == ["failed", "failed", "gave-up"]
        assert [[a["action"] for a in r["actions"]] for r in runs] == [
            ["start"], ["recreate"], []]
        # Each attempt ended when the container died again, not at the 60 s verify timeout.
        for run in runs[:2]:
            assert run["error"].startswith("app exited again with code 3"), run["error"]
            assert run["finished_at"] - run["started_at"] < 30
        message = gave_up[0]["message"]
        assert "recreate app failed twice the same way" in message
        assert "last log lines of app:\n  fatal config error" in message
        state = await handle.get(f"/api/deployments/{site.name}/recovery")
        assert state["phase"] == "gave-up"
        diagnosis = (await handle.post(f"/api/deployments/{site.name}/diagnose")).json()
        text = render_diagnosis(site.name, diagnosis)
        assert "last log lines of app:\n  fatal config error" in text


async def test_a_crash_loop_that_ended_is_healthy_and_never_restarted(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("flaky", {"app": zoo.flaky_starter(crashes=3, restart="always")})
    # As with the defaults (20 s settle, 5 s stable), recovery looks after the verification
    # period: by then the loop has ended.
    settings = merge(RECOVERY_ON, {"recovery": {"settle_seconds": 4}})
    async with running_agent(tmp_path / "data", deployments.root, **settings,
                             health={"crash_loop_restarts": 2}) as handle:
        await handle.wait_listed(site.name)
        site.up()
        await async_wait_until(lambda: _changed_to(handle, site.name, "crash-looping"), 60,
                               message="crash loop seen")
        healthy = await async_wait_until(lambda: _verdict(handle, site.name, "healthy"), 60,
                                         message="healthy once it runs stably")
        assert healthy["services"]["app"]["status"] == "running"
        runs = (await handle.get("/api/recoveries", params={"deployment": site.name}))["items"]
        restarts = [a for r in runs for a in r["actions"] if a["action"] in ("restart", "start")]
        assert restarts == []  # the running container was never restarted by recovery
        assert site.states() == {"app": "running"}


async def _changed_to(handle: AgentHandle, name: str, status: str) -> bool:
    for event in await events_of(handle, name, "health-changed"):
        if status in (event.get("data") or {}).get("services", {}).values():
            return True
    return False


async def _verdict(handle: AgentHandle, name: str, verdict: str) -> dict[str, Any] | None:
    body: dict[str, Any] = await handle.get(f"/api/deployments/{name}/health")
    return body if body.get("verdict") == verdict else None


async def test_sidecar_follows_its_recreated_namespace_owner(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("pair", {"main": zoo.graceful(), "side": zoo.sidecar()})
    site.up()
    # main crashed and was removed while the agent was not looking (a person's `docker rm
    # -f` would be a stop on purpose): recovery creates a new main
    main_id = next(r["ID"] for r in site.ps() if r["Service"] == "main")
    crash_container(main_id)
    run_docker("wait", main_id)  # Docker has seen the exit: the container can go
    run_docker("rm", main_id)
    async with running_agent(tmp_path / "data", deployments.root, **RECOVERY_ON) as handle:
        await handle.wait_listed(site.name)
        succeeded = await async_wait_until(
            lambda: events_of(handle, site.name, "recovery-succeeded"), 90,
            message="recovered")
        assert succeeded[0]["message"].endswith("start main, recreate side")
        rows = {r["Service"]: r["ID"] for r in site.ps()}
        mode = run_docker("inspect", "--format", "{{.HostConfig.NetworkMode}}",
                          rows["side"]).stdout.strip()
        new_main = run_docker("inspect", "--format", "{{.Id}}", rows["main"]).stdout.strip()
        assert mode == f"container:{new_main}"  # the sidecar joined the new namespace
        assert site.states() == {"main": "running", "side": "running"}


async def test_a_run_cut_short_by_the_agent_stopping_ends_as_interrupted(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("sick", {"app": zoo.graceful(healthcheck={
        "test": ["CMD-SHELL", "false"], "interval": "1s", "retries": 1})})
    site.up()
    data = tmp_path / "data"
    async with running_agent(data, deployments.root, **RECOVERY_ON) as handle:
        await handle.wait_listed(site.name)
        await async_wait_until(lambda: events_of(handle, site.name, "recovery-started"), 60,
                               message="a recovery under way")
        runs = (await handle.get("/api/recoveries", params={"deployment": site.name}))["items"]
        assert runs[0]["outcome"] == "running"  # verifying: it never becomes healthy
    async with running_agent(data, deployments.root) as handle:  # recovery off this time
        runs = (await handle.get("/api/recoveries", params={"deployment": site.name}))["items"]
        assert runs[0]["outcome"] == "interrupted"
        assert runs[0]["finished_at"] is not None


async def test_oom_kills_are_counted_once_each_and_repeated_ones_need_a_person(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("hog", {"app": zoo.memory_hog()})
    async with running_agent(tmp_path / "data", deployments.root, **RECOVERY_ON) as handle:
        await handle.wait_listed(site.name)
        site.up()  # started while the agent watches: wanted running
        gave_up = await async_wait_until(
            lambda: events_of(handle, site.name, "recovery-gave-up"), 120, message="gave up")
        runs = (await handle.get("/api/recoveries", params={"deployment": site.name}))["items"]
        acted = [r for r in runs if r["actions"]]
        # The first kill, then one more per attempt that started it again.
        kills = 1 + len(acted)
        assert f"app was OOM-killed {kills} times" in gave_up[0]["message"]
        diagnosis = (await handle.post(f"/api/deployments/{site.name}/diagnose")).json()
        assert diagnosis["evidence"]["services"]["app"]["oom_kills_recent"] == kills
        assert f"app: OOM-killed {kills} times" in render_diagnosis(site.name, diagnosis)
