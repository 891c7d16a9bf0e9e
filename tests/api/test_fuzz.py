"""Schemathesis against a live agent: every check, a fixed number of derandomized examples.

The start/stop/restart/down operations act on a deployment of this test's own, on a
private Docker daemon; every other operation gets whatever names the schema allows.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.agent import AgentProcess, agent_config, merge
from support.deployments import DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.wait import wait_until

EXAMPLES = 25
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
REPORT = Path(__file__).resolve().parents[2] / "test-output" / "schemathesis.log"


def config_toml(agent: AgentProcess, deployment: str) -> str:
    """A schemathesis config: the agent, its token, and the pinned deployment name."""
    return f"""
base-url = "{agent.url}"
headers = {{ Authorization = "Bearer {agent.token()}" }}
workers = 1
continue-on-failure = true
request-timeout = 180

[generation]
max-examples = {EXAMPLES}
deterministic = true

[checks]
enabled = true

[[operations]]
include-path-regex = "^/api/deployments/\\\\{{name\\\\}}/(start|stop|restart|down|diagnose)$"
parameters = {{ name = "{deployment}" }}
"""


@pytest.mark.docker
@pytest.mark.slow
def test_schemathesis_finds_nothing(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory
) -> None:
    site = private_deployments.make("fuzzed", {"web": service("sleep 3600")})
    site.up()
    # Schemathesis sends a wrong token to every operation and wants 401 each time; past
    # api.login_attempts they would get 429 (tests/api/test_token_throttle.py), so the
    # limit is out of its way here.
    config = merge(agent_config(tmp_path / "data", private_deployments.root,
                                docker_host=private_dockerd.host),
                   {"api": {"login_attempts": 100_000}})
    agent = AgentProcess(config, tmp_path / "agent")
    try:
        agent.start()
        wait_until(lambda: site.name in agent.api("GET", "/api/deployments").text, 30,
                   message="deployment listed")
        settings = tmp_path / "schemathesis.toml"
        settings.write_text(config_toml(agent, site.name))
        result = subprocess.run(
            [str(SCHEMATHESIS), "--config-file", str(settings), "--no-color", "run",
             "--checks", "all", agent.url + "/openapi.json"],
            capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
        )
        report = result.stdout + result.stderr
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(report)
        assert result.returncode == 0, report[-12000:]
        assert "generated" in report and "failures" not in report, report[-3000:]
        done = agent.api("GET", f"/api/events?deployment={site.name}&kind=action&limit=1000")
        actions = {e["data"]["action"] for e in done.json()["items"]}
        assert {"start", "stop", "restart", "down"} <= actions, actions
    finally:
        agent.close()
