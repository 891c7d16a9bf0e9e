"""Recovery against the real engine: restart what died, give up within limits, rebuild."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.agent import RECOVERY_ON, AgentHandle, running_agent
from support.compose import crash_container, run_docker
from support.deployments import DeploymentFactory, service
from support.wait import async_wait_until


async def events_of(handle: AgentHandle, name: str, kind: str) -> list[dict[str, Any]]:
    body = await handle.get("/api/events", params={"deployment": name, "kind": kind})
    items: list[dict[str, Any]] = body["items"]
    return items


async def recovery_state(handle: AgentHandle, name: str) -> dict[str, Any]:
    body: dict[str, Any] = await handle.get(f"/api/deployments/{name}/recovery")
    return body


async def test_killed_service_without_restart_policy_is_brought_back(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("killed", {"web": service("sleep 3600"),
                                       "db": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root, **RECOVERY_ON) as handle:
        await handle.wait_listed(site.name)
        web_id = next(c for c in site.ps() if c["Service"] == "web")["ID"]
        crash_container(web_id)
        succeeded = await async_wait_until(
            lambda: events_of(handle, site.name, "recovery-succeeded"), 60,
            message="recovery succeeded",
        )
        assert site.states() == {"web": "running", "db": "running"}
        assert len(succeeded) == 1
        assert "start web" in succeeded[0]["message"]
        runs = (await handle.get("/api/recoveries", params={"deployment": site.name}))["items"]
        assert runs[0]["outcome"] == "recovered"
        assert runs[0]["source"] == "rules"
        assert runs[0]["actions"][0] == {**runs[0]["actions"][0], "service": "web",
                                          "action": "start", "ok": True}
        detail = await handle.get(f"/api/recoveries/{runs[0]['id']}")
        assert detail["evidence"]["services"]["web"]["status"] == "exited"
        # Killing is not a user's stop: the desired state stays running.
        assert (await handle.desired(site.name))["state"] == "running"  # type: ignore[index]


async def test_stopped_deployment_is_never_started(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("leftalone", {"web": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root, **RECOVERY_ON) as handle:
        await handle.wait_listed(site.name)
        response = await handle.post(f"/api/deployments/{site.name}/stop")
        assert response.status_code == 200, response.text
        diagnosis = await handle.post(f"/api/deployments/{site.name}/diagnose")
        assert diagnosis.json()["diagnosis"]["suggestions"] == []
        health = await async_wait_until(
            lambda: _verdict(handle, site.name, "stopped"), 30, message="verdict stopped")
        assert health["verdict"] == "stopped"
        assert await events_of(handle, site.name, "recovery-started") == []
        assert site.states() == {"web": "exited"}


async def test_crash_loop_gets_the_budget_then_gives_up_once_and_start_clears_it(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("looper", {"app": service("sleep 0.3; exit 4", restart="always")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root, **RECOVERY_ON,
                             health={"crash_loop_restarts": 2}) as handle:
        await handle.wait_listed(site.name)
        gave_up = await async_wait_until(
            lambda: events_of(handle, site.name, "recovery-gave-up"), 120,
            message="gave up",
        )
        state = await recovery_state(handle, site.name)
        assert state["phase"] == "gave-up"
        # Docker's policy restarts it: never a restart racing it, one fresh container, then
        # (the same failure again) a person is needed
        assert state["attempts_in_window"] == 1
        runs = (await handle.get("/api/recoveries", params={"deployment": site.name}))["items"]
        assert [[a["action"] for a in r["actions"]] for r in reversed(runs)] == [
            ["recreate"], []]
        for run in runs[1:]:  # the attempt ended when the container died again
            assert run["error"].startswith("app died again"), run["error"]
            assert run["finished_at"] - run["started_at"] < 15
        assert len(await events_of(handle, site.name, "recovery-failed")) == 1
        assert len(gave_up) == 1
        assert "needs a person" in gave_up[0]["message"]
        assert "recreate app failed twice the same way" in gave_up[0]["message"]
        response = await handle.post(f"/api/deployments/{site.name}/start")
        assert response.status_code == 200
        state = await recovery_state(handle, site.name)
        assert state["phase"] == "idle"
        assert len(await events_of(handle, site.name, "recovery-gave-up")) == 1


async def test_missing_image_without_a_way_to_get_it_gives_up_as_image_unavailable(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("noimage", {"web": service("sleep 3600", image="smt-nowhere:1")})
    site.compose("create", check=False)
    async with running_agent(tmp_path / "data", deployments.root, **RECOVERY_ON) as handle:
        await handle.wait_listed(site.name)
        # First sight of a deployment with nothing running records `stopped`; the user
        # asks for it to run, the start fails, and recovery takes over.
        response = await handle.post(f"/api/deployments/{site.name}/start")
        assert response.status_code == 502
        assert "pull" in response.json()["detail"]["stderr"].lower()
        gave_up = await async_wait_until(
            lambda: events_of(handle, site.name, "recovery-gave-up"), 90, message="gave up")
        assert "image unavailable" in gave_up[0]["message"]
        runs = (await handle.get("/api/recoveries", params={"deployment": site.name}))["items"]
        assert runs[0]["outcome"] == "gave-up"
        assert "image unavailable" in runs[0]["diagnosis"]["summary"]


async def test_missing_image_with_a_build_context_is_rebuilt(
    tmp_path: Path, deployments: DeploymentFactory, busybox_image: str
) -> None:
    image = f"{deployments.prefix}-built:1"
    site = deployments.make(
        "rebuild",
        {"web": service("sleep 3600", image=image, build={"context": "./ctx"})},
        files={"ctx/Dockerfile": f"FROM {busybox_image}\nRUN echo built > /built.txt\n"},
    )
    site.up()
    async with running_agent(tmp_path / "data", deployments.root, **RECOVERY_ON) as handle:
        await handle.wait_listed(site.name)
        # The container and its image vanish (it crashed, then a prune, a disk cleanup);
        # no user stop (a person's `docker rm -f` would be one).
        run_docker("image", "rm", "--force", image)
        for cid in site.container_ids():
            crash_container(cid)
            run_docker("wait", cid)  # Docker has seen the exit: the container can go
            run_docker("rm", cid)
        succeeded = await async_wait_until(
            lambda: events_of(handle, site.name, "recovery-succeeded"), 120,
            message="rebuilt and recovered",
        )
        assert "rebuild web" in succeeded[0]["message"]
        assert site.states() == {"web": "running"}


async def _verdict(handle: AgentHandle, name: str, verdict: str) -> dict[str, Any] | None:
    body: dict[str, Any] = await handle.get(f"/api/deployments/{name}/health")
    return body if body.get("verdict") == verdict else None
