"""Deployments come and go with their folders; an invalid compose file is listed, not fatal."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from support.agent import AgentHandle, running_agent
from support.deployments import DeploymentFactory, service
from support.wait import async_wait_until


async def rows(handle: AgentHandle) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in (await handle.get("/api/deployments"))["items"]}


async def test_folders_appear_change_and_disappear_while_running(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    async with running_agent(tmp_path / "data", deployments.root) as handle:
        assert await rows(handle) == {}
        site = deployments.make("late", {"web": service("sleep 3600")},
                                filename="docker-compose.yml")
        found = await async_wait_until(lambda: _row(handle, site.name), 30,
                                       message="new folder listed")
        assert found["state"] == "stopped"
        assert found["desired"]["source"] == "first-seen"

        site.write("services: [this is not a mapping\n")
        broken = await async_wait_until(
            lambda: _row(handle, site.name, state="invalid"), 30, message="listed invalid")
        assert broken["error"]  # Compose's own words
        response = await handle.post(f"/api/deployments/{site.name}/start")
        assert response.status_code == 502
        assert response.json()["detail"]["stderr"]
        healthz = (await handle.api.get("/healthz")).json()
        assert healthz["agent"]["up"] is True

        site.write({"services": {"web": {"image": deployments.image,
                                         "command": ["sleep 3600"], "init": True}}})
        await async_wait_until(lambda: _row(handle, site.name, state="stopped"), 30,
                               message="valid again")
        shutil.rmtree(site.path)
        await async_wait_until(lambda: _gone(handle, site.name), 30, message="gone")
        events = (await handle.get("/api/events", params={"deployment": site.name}))["items"]
        kinds = {e["kind"] for e in events}
        assert {"deployment-found", "deployment-changed", "deployment-gone"} <= kinds


async def _row(handle: AgentHandle, name: str, state: str | None = None
               ) -> dict[str, Any] | None:
    row = (await rows(handle)).get(name)
    if row is None or (state is not None and row["state"] != state):
        return None
    return row


async def _gone(handle: AgentHandle, name: str) -> bool:
    return name not in await rows(handle)
