"""The bundled example deployment starts and turns healthy on a daemon without a registry."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.agent import AgentProcess, agent_config, free_port
from support.dockerd import PrivateDockerd
from support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.docker
def test_example_starts_healthy_with_an_image_built_here(
    tmp_path: Path, private_dockerd: PrivateDockerd
) -> None:
    env = {**os.environ, "DOCKER_HOST": private_dockerd.host}
    made = subprocess.run([str(ROOT / "scripts" / "example-image")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert made.returncode == 0, made.stderr
    assert "stackmedic-example:latest" in made.stdout, made.stdout + made.stderr
    again = subprocess.run([str(ROOT / "scripts" / "example-image")], env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert again.stdout == ""  # already there: nothing to do

    deployments = tmp_path / "deployments"
    shutil.copytree(ROOT / "deployments" / "example", deployments / "example")
    compose = deployments / "example" / "compose.yaml"
    # Only the host port changes, so that the copy never meets one started by hand.
    compose.write_text(compose.read_text().replace("18080:", f"{free_port()}:"))
    agent = AgentProcess(
        agent_config(tmp_path / "data", deployments, docker_host=private_dockerd.host),
        tmp_path / "agent",
    )
    try:
        agent.start()
        wait_until(lambda: "example" in agent.cli("status").stdout, 30, message="listed")
        started = agent.cli("start", "example")
        assert started.returncode == 0, started.stderr

        def verdict() -> str | None:
            body = agent.api("GET", "/api/deployments/example/health").json()
            return "healthy" if body["verdict"] == "healthy" else None

        wait_until(verdict, 90, interval=0.5, message="example healthy")
    finally:
        agent.close()
