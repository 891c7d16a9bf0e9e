"""The zoo's services really behave as named: their exit codes on a stop, their readiness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import zoo
from support.compose import run_docker
from support.deployments import DeploymentFactory
from support.wait import wait_until

pytestmark = pytest.mark.docker


def _inspect(container_id: str) -> dict[str, object]:
    data: list[dict[str, object]] = json.loads(run_docker("inspect", container_id).stdout)
    return data[0]


def test_exit_codes_on_stop_and_health_and_jobs(tmp_path: Path,
                                                deployments: DeploymentFactory) -> None:
    site = deployments.make("zoo", {
        "graceful": zoo.graceful(), "ignorer": zoo.ignores_term(), "plain": zoo.exits_143(),
        "migrate": zoo.migration(), "app": zoo.after_migration(),
        "slow": zoo.slow_starter(delay=1), "main": zoo.graceful(), "side": zoo.sidecar(),
    })
    site.up("--wait", timeout=180)
    ids = {row["Service"]: row["ID"] for row in site.ps()}
    assert _inspect(ids["slow"])["State"]["Health"]["Status"] == "healthy"  # type: ignore[index]
    assert _inspect(ids["migrate"])["State"]["ExitCode"] == 0  # type: ignore[index]
    side = _inspect(ids["side"])["HostConfig"]["NetworkMode"]  # type: ignore[index]
    assert str(side).startswith("container:")
    site.stop("graceful", "ignorer", "plain")
    codes = {s: _inspect(ids[s])["State"]["ExitCode"]  # type: ignore[index]
             for s in ("graceful", "ignorer", "plain")}
    assert codes == {"graceful": 0, "ignorer": 137, "plain": 143}


def test_crash_looper_logs_and_exits_with_its_code(deployments: DeploymentFactory) -> None:
    site = deployments.make("looper", {"app": zoo.crash_looper(after=0.5, code=3)})
    site.up()
    cid = site.container_ids()[0]

    def exited() -> dict[str, object] | None:
        state: dict[str, object] = _inspect(cid)["State"]  # type: ignore[assignment]
        return state if state["Status"] == "exited" else None

    state = wait_until(exited, 30, message="crash looper exited")
    assert state is not None and state["ExitCode"] == 3
    assert "fatal config error" in run_docker("logs", cid).stdout
