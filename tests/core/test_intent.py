"""Desired state against the real engine: user intent is kept, daemon shutdowns are not intent."""

from __future__ import annotations

from pathlib import Path

from support.agent import AgentProcess, agent_config, running_agent
from support.deployments import DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.wait import async_wait_until, wait_until

SLEEPER = {"app": service("sleep 3600")}


async def test_compose_stop_outside_the_agent_is_recorded_as_intent(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("site", {"app": service("sleep 3600"), "db": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root) as handle:
        await async_wait_until(
            lambda: _state(handle.desired(site.name)), 30, message="first seen running"
        )
        assert (await handle.desired(site.name))["source"] == "first-seen"  # type: ignore[index]
        site.stop()
        desired = await async_wait_until(
            lambda: _stopped(handle.desired(site.name)), 30, message="observed stop recorded"
        )
        assert desired["source"] == "observed-stop"
        events = await handle.get("/api/events", params={"deployment": site.name})
        assert any(e["kind"] == "intent-changed" and "outside stackmedic" in e["message"]
                   for e in events["items"])


async def test_stopping_one_service_records_intent_for_that_service_only(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("pair", {"app": service("sleep 3600"), "db": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root) as handle:
        await async_wait_until(lambda: _state(handle.desired(site.name)), 30)
        site.stop("db")

        async def db_override() -> dict[str, object] | None:
            detail = await handle.deployment(site.name)
            db = next(s for s in detail["services"] if s["name"] == "db")
            override: dict[str, object] | None = db["desired_override"]
            return override

        override = await async_wait_until(db_override, 30, message="service override")
        assert override["state"] == "stopped"
        assert (await handle.desired(site.name))["state"] == "running"  # type: ignore[index]


async def test_orderly_daemon_restart_is_not_a_user_stop(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory
) -> None:
    site = private_deployments.make("reboot", SLEEPER)
    other = private_deployments.make("other", SLEEPER)
    site.up()
    other.up()
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host) as handle:
        for name in (site.name, other.name):
            await async_wait_until(lambda n=name: _state(handle.desired(n)), 30)
        await private_dockerd.astop()
        await private_dockerd.astart()
        # The agent notices the shutdown: its pending stops are dropped, not recorded.
        await async_wait_until(
            lambda: _has_event(handle, "intent-ignored"), 60,
            message="stops during shutdown were set aside",
        )
        await async_wait_until(lambda: handle.agent.stream.connected.is_set(), 60)
        for name in (site.name, other.name):
            desired = await handle.desired(name)
            assert desired == {**desired, "state": "running", "source": "first-seen"}
        # The same agent still takes a real user stop on this daemon as intent.
        site.up()
        other.up()
        other.stop()
        stopped = await async_wait_until(lambda: _stopped(handle.desired(other.name)), 30)
        assert stopped["source"] == "observed-stop"
        assert (await handle.desired(site.name))["state"] == "running"  # type: ignore[index]


def test_cli_stop_survives_agent_restart_and_start_brings_it_back(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("web", SLEEPER)
    site.up()
    agent = AgentProcess(agent_config(tmp_path / "data", deployments.root), tmp_path / "agent")
    try:
        agent.start()
        wait_until(lambda: site.name in agent.cli("status").stdout, 30, message="listed")
        result = agent.cli("stop", site.name)
        assert result.returncode == 0, result.stderr
        assert "desired state stopped (source cli)" in result.stdout
        assert site.states() == {"app": "exited"}
        assert agent.terminate(timeout=10) == 0
        agent.start()
        row = _row(agent, site.name)
        assert (row["desired"]["state"], row["desired"]["source"]) == ("stopped", "cli")
        result = agent.cli("start", site.name)
        assert result.returncode == 0, result.stderr
        row = _row(agent, site.name)
        assert (row["desired"]["state"], row["desired"]["source"]) == ("running", "cli")
        assert site.states() == {"app": "running"}
    finally:
        agent.close()


def test_stop_while_agent_is_down_is_replayed_from_the_engine(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("replay", SLEEPER)
    site.up()
    agent = AgentProcess(agent_config(tmp_path / "data", deployments.root), tmp_path / "agent")
    try:
        agent.start()
        wait_until(lambda: _row(agent, site.name)["desired"], 30, message="first seen")
        assert _row(agent, site.name)["desired"]["state"] == "running"
        agent.kill()
        site.stop()
        agent.start()
        row = wait_until(
            lambda: _row(agent, site.name)["desired"]["state"] == "stopped"
            and _row(agent, site.name), 30, message="replayed stop recorded",
        )
        assert row["desired"]["source"] == "observed-stop"
    finally:
        agent.close()


def test_cli_says_when_no_agent_runs(tmp_path: Path) -> None:
    agent = AgentProcess(agent_config(tmp_path / "data", tmp_path), tmp_path / "agent")
    result = agent.cli("status")
    assert result.returncode == 3
    assert "no stackmedic agent answers" in result.stderr
    assert "stackmedic run" in result.stderr


def _row(agent: AgentProcess, name: str) -> dict[str, object]:
    response = agent.api("GET", "/api/deployments")
    response.raise_for_status()
    return next(r for r in response.json()["items"] if r["name"] == name)


async def _state(pending: object) -> dict[str, object] | None:
    desired = await pending  # type: ignore[misc]
    return desired if desired and desired["state"] == "running" else None


async def _stopped(pending: object) -> dict[str, object] | None:
    desired = await pending  # type: ignore[misc]
    return desired if desired and desired["state"] == "stopped" else None


async def _has_event(handle: object, kind: str) -> bool:
    body = await handle.get("/api/events", params={"kind": kind})  # type: ignore[attr-defined]
    return bool(body["items"])


async def test_agent_started_before_the_daemon_waits_and_then_connects(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory
) -> None:
    site = private_deployments.make("late-daemon", SLEEPER)
    site.up()
    await private_dockerd.astop()
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host) as handle:
        response = await handle.api.get("/healthz")
        assert response.status_code == 503
        assert response.json()["docker"]["reachable"] is False
        rows = (await handle.get("/api/deployments"))["items"]
        assert [(r["name"], r["state"], r["desired"]) for r in rows] == [
            (site.name, "unknown", None)]  # listed, but no intent invented blind
        await private_dockerd.astart()

        async def healthy() -> bool:
            return (await handle.api.get("/healthz")).status_code == 200

        await async_wait_until(healthy, 60, message="agent reconnected")
        await async_wait_until(lambda: handle.agent.stream.connected.is_set(), 30)
        desired = await async_wait_until(lambda: handle.desired(site.name), 30)
        # The daemon came up without the container running (no restart policy).
        assert desired["state"] == "stopped"
        assert desired["source"] == "first-seen"
