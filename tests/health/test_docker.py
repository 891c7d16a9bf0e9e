"""Health against the real engine: exits, healthchecks, OOM, crash loops, stops, metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from stackmedic.cli.main import app
from support.compose import run_docker
from support.deployments import Deployment, DeploymentFactory, service
from support.wait import async_assert_holds, async_wait_until

from .conftest import HealthAgent, StartAgent
from .proxy import SocketProxy

pytestmark = pytest.mark.docker

# Waits for /tmp/go inside the container, then runs the rest of the command.
ON_GO = "until [ -e /tmp/go ]; do sleep 0.1; done; "
SLEEPER = service("sleep 3600")


def container_id(site: Deployment, name: str) -> str:
    """The id of the one container of a service."""
    return site.compose("ps", "--all", "--quiet", name).stdout.strip()


async def docker(*args: str) -> str:
    """Run the docker CLI off the event loop (the agent shares the loop)."""
    result = await asyncio.to_thread(run_docker, *args)
    return result.stdout


async def go(site: Deployment, name: str) -> None:
    """Let a service waiting on ``ON_GO`` carry on."""
    await docker("exec", container_id(site, name), "touch", "/tmp/go")


async def test_exit_code_shows_in_verdict_within_one_event(
    deployments: DeploymentFactory, start_agent: StartAgent
) -> None:
    site = deployments.make(
        "exit",
        {
            "web": SLEEPER,
            "api": service(ON_GO + "exit 3", restart="no"),
        },
    )
    site.up()
    # No periodic sweep during the test: only the event stream can explain the change.
    watcher = await start_agent(health={"sweep_interval_seconds": 600})
    await watcher.wait_verdict(site.name, "healthy")
    sweeps = watcher.agent.monitor.sweeps

    await go(site, "api")
    row = await watcher.wait_verdict(site.name, "degraded", timeout=10)

    assert watcher.agent.monitor.sweeps == sweeps
    assert row["reason"] == "api exited with code 3"
    assert row["services"]["api"]["status"] == "exited"
    assert row["services"]["api"]["exit_code"] == 3
    detail = await watcher.detail(site.name)
    api = next(c for c in detail["containers"] if c["service"] == "api")
    assert (api["status"], api["exit_code"], api["oom_killed"]) == ("exited", 3, False)
    assert [h["verdict"] for h in await watcher.history(site.name)] == ["healthy", "degraded"]
    assert watcher.verdicts(site.name) == ["healthy", "degraded"]
    events = await watcher.handle.get(
        "/api/events", params={"deployment": site.name, "kind": "health-changed"}
    )
    assert [e["data"]["verdict"] for e in reversed(events["items"])] == ["healthy", "degraded"]
    assert events["items"][0]["message"] == "healthy -> degraded: api exited with code 3"


async def test_failing_then_passing_healthcheck_is_one_row_each(
    deployments: DeploymentFactory, start_agent: StartAgent
) -> None:
    probe = "if [ -e /tmp/fail ]; then echo probe says no; exit 1; fi"
    site = deployments.make(
        "probe",
        {
            "web": service(
                "sleep 3600",
                healthcheck={
                    "test": ["CMD-SHELL", probe],
                    "interval": "300ms",
                    "timeout": "2s",
                    "retries": 1,
                },
            )
        },
    )
    site.up("--wait")
    watcher = await start_agent()
    await watcher.wait_verdict(site.name, "healthy")
    web = container_id(site, "web")

    await docker("exec", web, "touch", "/tmp/fail")
    row = await watcher.wait_verdict(site.name, "degraded")
    assert row["reason"] == "web unhealthy: probe says no"
    assert row["services"]["web"]["health_output"] == "probe says no"
    detail = await watcher.detail(site.name)
    assert detail["containers"][0]["health"] == "unhealthy"
    assert detail["containers"][0]["health_output"] == "probe says no"

    await docker("exec", web, "rm", "/tmp/fail")
    await watcher.wait_verdict(site.name, "healthy")
    history = await watcher.history(site.name)
    assert [(h["previous"], h["verdict"]) for h in history] == [
        (None, "healthy"),
        ("healthy", "degraded"),
        ("degraded", "healthy"),
    ]
    assert history[1]["reason"] == "web unhealthy: probe says no"


async def test_oom_kill_is_reported(
    deployments: DeploymentFactory, start_agent: StartAgent
) -> None:
    site = deployments.make(
        "oom",
        {
            "web": SLEEPER,
            "hog": service(
                ON_GO + "tail /dev/zero", restart="no", mem_limit="16m", memswap_limit="16m"
            ),
        },
    )
    site.up()
    watcher = await start_agent()
    await watcher.wait_verdict(site.name, "healthy")

    await go(site, "hog")
    row = await watcher.wait_verdict(site.name, "degraded")
    hog = row["services"]["hog"]
    assert (hog["status"], hog["oom_killed"], hog["exit_code"]) == ("exited", True, 137)
    assert row["reason"] == "hog exited with code 137 (OOM killed)"
    detail = await watcher.detail(site.name)
    assert next(c for c in detail["containers"] if c["service"] == "hog")["oom_killed"] is True


async def test_restart_always_with_exiting_command_is_crash_looping(
    deployments: DeploymentFactory, start_agent: StartAgent
) -> None:
    site = deployments.make("loop", {"web": SLEEPER, "worker": service("exit 4", restart="always")})
    watcher = await start_agent(health={"crash_loop_restarts": 3, "crash_loop_window_seconds": 120})
    await watcher.handle.wait_listed(site.name)
    started = await watcher.handle.post(f"/api/deployments/{site.name}/start")
    assert started.status_code == 200, started.text

    # "degraded" comes first (worker restarting); crash-looping once three exits are seen.
    async def crash_looping() -> dict[str, Any] | None:
        row = await watcher.health(site.name)
        worker = (row or {}).get("services", {}).get("worker") or {}
        return row if worker.get("status") == "crash-looping" else None

    row = await async_wait_until(crash_looping, 60, message="worker crash-looping")
    assert row["verdict"] == "degraded"
    worker = row["services"]["worker"]
    assert worker["exit_codes"][:3] == [4, 4, 4]
    assert row["reason"].startswith("worker crash-looping (exit codes 4, 4, 4")
    detail = await watcher.detail(site.name)
    assert len(detail["services"]["worker"]["recent_crashes"]) >= 3
    # The loop goes on (running, restarting, ...) but the verdict no longer moves.
    await async_assert_holds(
        lambda: watcher.verdicts(site.name)[-1] == "degraded", 1.5, message="verdict steady"
    )


async def test_stop_through_the_agent_is_stopped_never_down(
    deployments: DeploymentFactory, start_agent: StartAgent
) -> None:
    site = deployments.make("stop", {"web": SLEEPER, "db": SLEEPER})
    site.up()
    watcher = await start_agent()
    await watcher.wait_verdict(site.name, "healthy")

    stopped = await watcher.handle.post(f"/api/deployments/{site.name}/stop")
    assert stopped.status_code == 200, stopped.text
    await watcher.wait_verdict(site.name, "stopped")

    async def all_exited() -> bool:
        detail = await watcher.detail(site.name)
        return all(c["status"] == "exited" for c in detail["containers"])

    await async_wait_until(all_exited, 30, message="containers exited")
    row = await watcher.health(site.name)
    assert row is not None and row["verdict"] == "stopped"
    assert row["reason"] == "stopped as desired"
    assert watcher.verdicts(site.name) == ["healthy", "stopped"]
    assert [h["verdict"] for h in await watcher.history(site.name)] == ["healthy", "stopped"]


async def test_metrics_parse_and_carry_the_series(
    deployments: DeploymentFactory, start_agent: StartAgent
) -> None:
    site = deployments.make("metrics", {"web": SLEEPER, "api": service("exit 3", restart="no")})
    site.up()
    watcher = await start_agent()
    await watcher.wait_verdict(site.name, "degraded")

    port = watcher.agent.server.port  # type: ignore[union-attr]
    async with httpx.AsyncClient() as client:  # no token: /metrics is open by default
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}

    def value(family: str, **labels: str) -> float:
        matches = [
            s.value
            for s in families[family].samples
            if all(s.labels.get(k) == v for k, v in labels.items())
        ]
        assert len(matches) == 1, (family, labels, matches)
        return matches[0]

    dep = {"deployment": site.name}
    assert value("stackmedic_deployment_verdict", **dep, verdict="degraded") == 1
    assert value("stackmedic_deployment_verdict", **dep, verdict="healthy") == 0
    assert value("stackmedic_service_status", **dep, service="api", status="exited") == 1
    assert value("stackmedic_container_up", **dep, service="web") == 1
    assert value("stackmedic_container_up", **dep, service="api") == 0
    assert value("stackmedic_container_exit_code", **dep, service="api") == 3
    assert value("stackmedic_container_oom_killed", **dep, service="api") == 0
    assert value("stackmedic_container_restart_count", **dep, service="web") == 0
    assert value("stackmedic_container_health_status", **dep, service="web", status="none") == 1
    assert value("stackmedic_docker_up") == 1
    assert value("process_resident_memory_bytes") > 0
    assert value("process_cpu_seconds") > 0  # the parser drops the _total suffix


def cli(watcher: HealthAgent, *args: str) -> Any:
    """Run the CLI against the in-process agent (in a thread: the agent needs the loop)."""
    port = watcher.agent.server.port  # type: ignore[union-attr]
    env = {
        "STACKMEDIC_URL": f"http://127.0.0.1:{port}",
        "STACKMEDIC_TOKEN": watcher.agent.token,
        "STACKMEDIC_CONFIG": None,
    }
    return asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def test_cli_status_and_health_show_verdict_reason_and_containers(
    deployments: DeploymentFactory, start_agent: StartAgent
) -> None:
    site = deployments.make("cli", {"web": SLEEPER, "api": service("exit 3", restart="no")})
    site.up()
    watcher = await start_agent()
    await watcher.wait_verdict(site.name, "degraded")

    status = await cli(watcher, "status")
    assert status.exit_code == 0, status.output
    line = next(x for x in status.output.splitlines() if x.startswith(site.name))
    assert "degraded" in line and line.endswith("api exited with code 3")

    health = await cli(watcher, "health", site.name)
    assert health.exit_code == 0, health.output
    lines = health.output.splitlines()
    assert lines[0].startswith(f"{site.name}: degraded since ")
    assert lines[1] == "reason: api exited with code 3"
    assert lines[3].split() == [
        "SERVICE",
        "CONTAINER",
        "STATUS",
        "HEALTH",
        "EXIT",
        "RESTARTS",
        "OOM",
        "LAST",
        "PROBE",
        "OUTPUT",
    ]
    rows = {r.split()[0]: r.split() for r in lines[4:6]}
    assert rows["api"][2:7] == ["exited", "none", "3", "0", "no"]
    assert rows["web"][2:7] == ["running", "none", "-", "0", "no"]
    missing = await cli(watcher, "health", "nope")
    assert missing.exit_code == 1 and "404" in missing.output


def _rows(body: dict[str, Any]) -> list[str]:
    return [i["deployment"] for i in body["items"]]


async def test_health_api_answers_404_and_422(
    deployments: DeploymentFactory, start_agent: StartAgent
) -> None:
    site = deployments.make("api", {"web": SLEEPER})
    site.up()
    watcher = await start_agent()
    await watcher.wait_verdict(site.name, "healthy")
    assert site.name in _rows(await watcher.handle.get("/api/health"))
    api = watcher.handle.api
    assert (await api.get("/api/deployments/nope/health")).status_code == 404
    assert (await api.get("/api/deployments/nope/health/history")).status_code == 404
    assert (await api.get("/api/deployments/..%2Fetc/health")).status_code == 422
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        assert (await anonymous.get("/api/health")).status_code == 401


async def test_events_missed_while_the_stream_was_broken_are_repaired_by_the_resync(
    deployments: DeploymentFactory, start_agent: StartAgent
) -> None:
    site = deployments.make("gap", {"web": SLEEPER, "api": service(ON_GO + "exit 3")})
    site.up()
    proxy = SocketProxy()
    await proxy.start()
    try:
        watcher = await start_agent(docker={"host": proxy.host})
        agent = watcher.agent
        await watcher.wait_verdict(site.name, "healthy")
        api_id = container_id(site, "api")

        async def api_exited() -> bool:
            return (await docker("inspect", "-f", "{{.State.Status}}", api_id)).strip() == "exited"

        proxy.cut()
        await async_wait_until(
            lambda: not agent.stream.connected.is_set(), 10, message="stream broken"
        )
        agent.stream.cursor = None  # no replay: only the resync can tell what happened
        await go(site, "api")
        await async_wait_until(api_exited, 10, message="api exited")
        api = next(c for c in agent.observed.for_project(site.name) if c.service == "api")
        assert api.running, "the agent cannot have seen the exit yet"
        sweeps = agent.monitor.sweeps

        proxy.restore()
        row = await watcher.wait_verdict(site.name, "degraded")
        assert row["reason"] == "api exited with code 3"
        assert agent.monitor.sweeps > sweeps
        assert "degraded" in watcher.verdicts(site.name)
    finally:
        await proxy.close()
