"""Probes on a real daemon: TCP, a refused port, an invalid label beside a valid probe, a
stopped deployment that is not probed, and the blackbox exporter's names in Prometheus."""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path
from typing import Any

import httpx

from support.agent import AgentHandle, running_agent
from support.deployments import DeploymentFactory
from support.dockerd import PrivateDockerd
from support.monitoring import PrometheusServer
from support.wait import async_assert_holds, async_wait_until

from .services import plain, tcp_server

SETTINGS: dict[str, Any] = {"probes": {"grace_seconds": 1}}


async def probe(h: AgentHandle, name: str, service: str) -> dict[str, Any] | None:
    body = await h.get(f"/api/deployments/{name}/probes")
    return next((p for p in body["probes"] if p["service"] == service), None)


async def test_tcp_probes_bad_labels_and_stopped_deployments(
    tmp_path: Path, private_deployments: DeploymentFactory, private_dockerd: PrivateDockerd,
) -> None:
    store = private_deployments.make("store", {
        "db": tcp_server(5432),
        "cache": tcp_server(6379, probe_port=6380),  # nothing listens on what is probed
        "worker": plain({"stackmedic.probe.tcp": ":7000",
                         "stackmedic.probe.timeout": "soon"}),
    })
    await asyncio.to_thread(store.up)
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host, **SETTINGS) as h:
        name = store.name
        health = await async_wait_until(lambda: _degraded(h, name), 30, message="degraded")
        assert "cache unhealthy: probe :6380 failed" in health["reason"], health
        assert "connection refused" in health["reason"], health
        db = await probe(h, name, "db")
        assert db is not None and db["last"]["ok"] and db["kind"] == "tcp", db
        # The invalid label is named with its deployment; the other probes still run.
        listed = await h.get("/api/probes")
        [wrong] = listed["invalid"]
        assert wrong["deployment"] == name and wrong["service"] == "worker", wrong
        assert wrong["label"] == "stackmedic.probe.timeout" and "soon" in wrong["message"]
        assert health["probe_errors"] == [wrong]
        page = await dashboard_page(h, f"/deployments/{name}")
        assert "Invalid probe label in " + name in page and "stackmedic.probe.timeout" in page
        assert "Probe latency of " + name in page and ":5432" in page

        prometheus = PrometheusServer(tmp_path / "prometheus", _scrape(h))
        try:
            await asyncio.to_thread(prometheus.start)
            up = await async_wait_until(lambda: asyncio.to_thread(
                prometheus.query, f'probe_success{{deployment="{name}"}}'), 60,
                interval=0.5, message="probe_success scraped")
            success = {r["metric"]["service"]: r["value"][1] for r in up}
            assert success == {"db": "1", "cache": "0"}, up
            [target] = {r["metric"]["target"] for r in up if r["metric"]["service"] == "db"}
            assert target == ":5432"
            assert await asyncio.to_thread(
                prometheus.query, f'probe_duration_seconds{{deployment="{name}"}} > 0')
        finally:
            await asyncio.to_thread(prometheus.close)

        # Stopped on purpose: not probed any more, and never ill for it.
        response = await h.post(f"/api/deployments/{name}/stop")
        assert response.status_code < 300, response.text
        await async_wait_until(lambda: _verdict_is(h, name, "stopped"), 60, message="stopped")
        before = await probe(h, name, "db")
        assert before is not None
        await async_wait_until(lambda: _skipped(h, name), 10, message="probes skipped")

        async def not_probed() -> bool:
            now = await probe(h, name, "db")
            return now is not None and now["history"] == before["history"] and \
                await _verdict_is(h, name, "stopped")

        await async_assert_holds(not_probed, 4, interval=0.5, message="no probe while stopped")


async def dashboard_page(h: AgentHandle, path: str) -> str:
    """A dashboard page as a logged-in browser gets it."""
    base = str(h.api.base_url)
    async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
        form = (await browser.get("/login")).text
        nonce = re.search(r'name="nonce" value="([^"]+)"', form)
        assert nonce is not None, form
        await browser.post("/login", data={"token": h.agent.token, "nonce": nonce[1],
                                           "next": path}, headers={"Origin": base})
        response = await browser.get(path)
        response.raise_for_status()
        return html.unescape(response.text)


def _scrape(h: AgentHandle) -> dict[str, Any]:
    assert h.agent.server is not None
    return {"global": {"scrape_interval": "1s"}, "scrape_configs": [{
        "job_name": "stackmedic", "static_configs": [
            {"targets": [f"127.0.0.1:{h.agent.server.port}"]}]}]}


async def _degraded(h: AgentHandle, name: str) -> dict[str, Any] | None:
    health: dict[str, Any] = await h.get(f"/api/deployments/{name}/health")
    return health if health["verdict"] == "degraded" else None


async def _verdict_is(h: AgentHandle, name: str, verdict: str) -> bool:
    return bool((await h.get(f"/api/deployments/{name}/health"))["verdict"] == verdict)


async def _skipped(h: AgentHandle, name: str) -> bool:
    found = (await h.get(f"/api/deployments/{name}/probes"))["probes"]
    return all(p["skipped"] and "stopped" in p["skipped"] for p in found)
