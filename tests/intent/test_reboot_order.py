"""`docker compose stop x && reboot` under the systemd order, and a daemon stopped right after
a person's stop: the stop is kept, the shutdown is not taken for one."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from support.agent import RECOVERY_ON, AgentProcess, agent_config, merge
from support.deployments import DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.wait import wait_until

pytestmark = pytest.mark.docker

SLEEPER = {"app": service("sleep 3600")}


def _agent(tmp_path: Path, factory: DeploymentFactory, daemon: PrivateDockerd,
           boot_id: Path) -> AgentProcess:
    config = merge(
        agent_config(tmp_path / "data", factory.root, docker_host=daemon.host),
        # A settle far longer than the test: only the evidence can decide.
        merge(RECOVERY_ON, {"boot_id_path": str(boot_id),
                            "intent": {"stop_settle_seconds": 600}}),
    )
    return AgentProcess(config, tmp_path / "agent")


def _desired(agent: AgentProcess, name: str) -> dict[str, Any] | None:
    response = agent.api("GET", "/api/deployments")
    if response.status_code != 200:
        return None
    row = next(r for r in response.json()["items"] if r["name"] == name)
    desired: dict[str, Any] | None = row["desired"]
    return desired


def _summary(agent: AgentProcess) -> dict[str, Any] | None:
    items = agent.api("GET", "/api/events?kind=restart-summary").json()["items"]
    data: dict[str, Any] | None = items[0]["data"] if items else None
    return data


def test_stop_then_reboot_in_systemd_order_keeps_the_stop(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory
) -> None:
    kept = private_deployments.make("kept", SLEEPER)
    other = private_deployments.make("other", SLEEPER)
    kept.up()
    other.up()
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("boot-one\n")
    agent = _agent(tmp_path, private_deployments, private_dockerd, boot_id)
    try:
        agent.start()
        for name in (kept.name, other.name):
            wait_until(lambda n=name: (_desired(agent, n) or {}).get("state") == "running",
                       30, message=f"{name} first seen running")
        kept.stop()
        # At once, well inside the settle: systemd stops stackmedic, then docker.service.
        assert agent.terminate(timeout=15) == 0
        private_dockerd.stop()
        boot_id.write_text("boot-two\n")
        private_dockerd.start()
        agent.start()
        summary = wait_until(lambda: _summary(agent), 120, message="restart summary")
        assert summary["restart"] == "host"
        assert summary["left_stopped"] == [kept.name]
        assert [b["deployment"] for b in summary["brought_back"]] == [other.name]
        assert kept.states() == {"app": "exited"}
        assert other.states() == {"app": "running"}
        desired = _desired(agent, kept.name)
        assert desired is not None
        assert (desired["state"], desired["source"]) == ("stopped", "observed-stop")
        changed = agent.api("GET", f"/api/events?kind=intent-changed&deployment={kept.name}")
        evidence = changed.json()["items"][0]["data"]["evidence"]
        assert evidence["decided_by"] == "agent-stop" and not evidence["uncertain"]
    finally:
        agent.close()


def test_daemon_stopped_a_moment_after_a_person_stop_keeps_only_that_stop(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory
) -> None:
    stopped = private_deployments.make("stopped", SLEEPER)
    running = [private_deployments.make(f"running{n}", SLEEPER) for n in range(3)]
    for deployment in (stopped, *running):
        deployment.up()
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("boot-one\n")
    agent = _agent(tmp_path, private_deployments, private_dockerd, boot_id)
    try:
        agent.start()
        for deployment in (stopped, *running):
            wait_until(lambda d=deployment: _desired(agent, d.name), 30, message="first seen")
        pid = private_dockerd.pid
        assert pid is not None
        stopped.stop()
        # The daemon's shutdown begins half a second after the person's stop returned.
        threading.Timer(0.5, os.kill, (pid, signal.SIGTERM)).start()
        wait_until(lambda: not private_dockerd.ping(), 30, message="daemon going away")
        private_dockerd.stop()  # waits for it to exit
        private_dockerd.start()
        summary = wait_until(lambda: _summary(agent), 120, message="restart summary")
        assert summary["left_stopped"] == [stopped.name]
        assert sorted(b["deployment"] for b in summary["brought_back"]) == sorted(
            d.name for d in running)
        assert stopped.states() == {"app": "exited"}
        ignored = agent.api("GET", "/api/events?kind=intent-ignored").json()["items"]
        assert sorted(e["deployment"] for e in ignored) == sorted(d.name for d in running)
    finally:
        agent.close()
