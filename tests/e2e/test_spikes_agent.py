"""A sustained CPU spike seen by the whole agent: API, metrics, and a signed webhook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from stackmedic.notify.channels import verify
from support.agent import running_agent
from support.compose import crash_container
from support.deployments import DeploymentFactory, service
from support.servers import HttpReceiver
from support.wait import async_wait_until

SECRET = "spike-hook-secret-5521"


def spike_config(hook: HttpReceiver) -> dict[str, Any]:
    return {
        "resources": {"sample_interval_seconds": 0.5, "rules": [{
            "name": "cpu-busy", "metric": "container_cpu_percent", "threshold": 50,
            "clear_below": 20, "for_seconds": 2, "cooldown_seconds": 0, "severity": "warning",
        }]},
        "notifications": {"group_window_seconds": 0.5, "retry_initial_seconds": 0.2,
                          "channels": {"hook": {"type": "webhook", "url": hook.url,
                                                "secret": SECRET}}},
    }


def kinds(hook: HttpReceiver) -> list[str]:
    found = []
    for request in hook.accepted():
        for event in request.json().get("events", []):
            found.append(event["kind"])
    return found


async def test_a_sustained_cpu_spike_fires_once_and_resolves_once(
    tmp_path: Path, deployments: DeploymentFactory, receiver: HttpReceiver
) -> None:
    # Held to a tiny CPU limit, which the burner gets in full even on a heavily loaded host;
    # the rule reads the percent of that limit.
    burn = service("while :; do :; done", cpus=0.01, cpu_shares=262144)
    site = deployments.make("burner", {"burn": burn, "idle": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root,
                             **spike_config(receiver)) as h:
        await h.wait_listed(site.name)

        async def burning() -> dict[str, Any] | None:
            rows = (await h.get("/api/resources"))["containers"]
            mine = {r["service"]: r for r in rows if r["deployment"] == site.name}
            hot = mine.get("burn")
            return mine if hot and (hot["cpu_percent"] or 0) > 80 else None

        now = await async_wait_until(burning, 30, message="burning container sampled")
        assert (now["idle"]["cpu_core_percent"] or 0) < 10
        await async_wait_until(lambda: "spike" in kinds(receiver), 30, message="spike hook")
        request = next(r for r in receiver.accepted() if "spike" in r.body.decode())
        assert verify(request.body, SECRET, request.headers["X-Stackmedic-Signature"])
        assert site.name in request.body.decode()
        assert SECRET not in request.body.decode()
        firing = (await h.get("/api/alerts", params={"state": "firing"}))["items"]
        assert [(a["rule"], a["service"]) for a in firing] == [("cpu-busy", "burn")]

        metrics = (await h.api.get("/metrics")).text
        names = {f.name for f in text_string_to_metric_families(metrics)}
        assert "stackmedic_deployment_verdict" in names
        assert any("cpu" in n and "container" in n for n in names), sorted(names)

        series = await h.get(f"/api/deployments/{site.name}/resources")
        assert series

        crash_container(next(c["ID"] for c in site.ps() if c["Service"] == "burn"))
        await async_wait_until(lambda: "spike-resolved" in kinds(receiver), 30,
                               message="resolved hook")
        assert kinds(receiver).count("spike") == 1
        assert kinds(receiver).count("spike-resolved") == 1
