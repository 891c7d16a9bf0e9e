"""Faults between the agent and a private daemon: the agent stays responsive and says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from health.proxy import SocketProxy
from support.agent import AgentHandle
from support.deployments import DeploymentFactory, service
from support.wait import async_wait_until

pytestmark = pytest.mark.docker

EVENTS = r"/events$"
INSPECT = r"/containers/[0-9a-f]+/json$"
SLEEPER = service("sleep 3600")


async def healthz(handle: AgentHandle) -> tuple[int, dict[str, Any]]:
    """``/healthz``'s status code and body."""
    response = await handle.api.get("/healthz")
    return response.status_code, response.json()


async def problem_naming(handle: AgentHandle, *words: str) -> str | None:
    """The first /healthz problem that holds every word, while /healthz answers 503."""
    code, body = await healthz(handle)
    if code != 503:
        return None
    return next((p for p in body["problems"] if all(w in p for w in words)), None)


def log_kinds(handle: AgentHandle) -> list[str]:
    """Kinds of every event-log row so far, oldest first."""
    rows = handle.agent.db.fetchall("SELECT kind FROM agent_events ORDER BY id")
    return [str(r["kind"]) for r in rows]


async def test_refused_event_stream_is_reported_without_spinning(
    proxy: SocketProxy, private_deployments: DeploymentFactory,
    agent_via_proxy: Callable[..., Any],
) -> None:
    site = private_deployments.make("blind", {"web": SLEEPER})
    site.up()
    proxy.fault(EVENTS, "close")  # as a socket proxy with EVENTS=0 does, while /_ping works
    handle: AgentHandle = await agent_via_proxy()

    problem = await async_wait_until(
        lambda: problem_naming(handle, "events", "event stream not connected"), 30,
        message="/healthz names the blind event stream",
    )
    assert "no progress" in problem
    # Still responsive: the API answers and lists the deployment.
    assert site.name in [d["name"] for d in (await handle.get("/api/deployments"))["items"]]

    rows_before, attempts_before = len(log_kinds(handle)), proxy.count(EVENTS)
    await async_wait_until(lambda: proxy.count(EVENTS) >= attempts_before + 4, 60,
                           message="four more refused subscriptions")
    new_rows = log_kinds(handle)[rows_before:]
    assert new_rows == [], "a refused stream writes nothing to the event log"
    assert "docker-connected" not in log_kinds(handle)

    proxy.clear()
    await async_wait_until(lambda: handle.agent.stream.connected.is_set(), 60,
                           message="stream connected once the proxy lets it through")
    _, body = await async_wait_until(lambda: _ok(handle), 30, message="/healthz back to 200")
    assert body["docker"]["events_connected"] is True
    assert abs(body["docker"]["clock_offset_seconds"]) < 5  # same host, same clock
    kinds = log_kinds(handle)
    assert kinds.count("docker-connected") == 1
    assert "restart-summary" not in kinds
    restarts = handle.agent.db.fetchall(
        "SELECT data FROM agent_events WHERE kind = 'restart-detected'")
    assert all("daemon" not in str(r["data"]) for r in restarts)


async def _verdict(handle: AgentHandle, name: str, verdict: str) -> bool:
    rows = (await handle.get("/api/health"))["items"]
    return any(r["deployment"] == name and r["verdict"] == verdict for r in rows)


async def _ok(handle: AgentHandle) -> tuple[int, dict[str, Any]] | None:
    code, body = await healthz(handle)
    return (code, body) if code == 200 else None


async def test_stalled_inspect_hits_its_deadline_and_healthz_says_which(
    proxy: SocketProxy, private_deployments: DeploymentFactory,
    agent_via_proxy: Callable[..., Any],
) -> None:
    site = private_deployments.make("stall", {"web": SLEEPER})
    site.up()
    handle: AgentHandle = await agent_via_proxy()
    await async_wait_until(lambda: _ok(handle), 60, message="healthy agent first")
    # /healthz answers before the first look at every container: on a loaded host the stop
    # below came first, and the container was first seen stopped (nothing left to inspect).
    await async_wait_until(lambda: _verdict(handle, site.name, "healthy"), 60,
                           message="the deployment seen running first")

    proxy.fault(INSPECT, "stall")
    site.stop("web", timeout=1)  # the event's inspect and the sweep's both stall

    await async_wait_until(
        lambda: problem_naming(handle, "sweep", "no progress", "inspect container"), 60,
        message="/healthz names the stalled sweep and the call it waits on",
    )
    problem = await async_wait_until(
        lambda: problem_naming(handle, "sweep: failed 3 times"), 60,
        message="/healthz names the sweep that keeps failing",
    )
    assert "EngineTimeout" in problem and "timed out after 2s" in problem
    _, body = await healthz(handle)
    assert body["docker"]["last_timeout"]["call"].startswith("inspect container")
    assert body["docker"]["timeouts"] >= 1
    # The API stays responsive while the engine is wedged.
    assert (await handle.api.get("/api/deployments")).status_code == 200

    proxy.clear()
    await async_wait_until(lambda: _ok(handle), 60, message="/healthz back to 200")

    def web_exited() -> bool:
        return [c.status for c in handle.agent.observed.for_project(site.name)] == ["exited"]

    await async_wait_until(web_exited, 30, message="the stop seen once inspect answers")
