"""A simulated host reboot: deployments come back on their own or by stackmedic, except the
one the user stopped, and one email tells what happened."""

from __future__ import annotations

import secrets
from pathlib import Path

from support.agent import RECOVERY_ON, AgentProcess, agent_config, merge
from support.deployments import DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.servers import SmtpSink
from support.wait import wait_until


def test_host_reboot_brings_back_what_should_run_and_reports_it(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory
) -> None:
    factory = private_deployments
    network = f"smt-shared-{secrets.token_hex(3)}"
    private_dockerd.docker("network", "create", network)
    plain = factory.make("plain", {"app": service("sleep 3600")})
    netted = factory.make("netted", {"app": service("sleep 3600", networks=[network])},
                          top_level={"networks": {network: {"external": True}}})
    policy = factory.make("policy", {"app": service("sleep 3600", restart="unless-stopped")})
    parked = factory.make("parked", {"app": service("sleep 3600")})
    for deployment in (plain, netted, policy, parked):
        deployment.up()
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("boot-one\n")
    sink = SmtpSink().start()
    config = merge(
        agent_config(tmp_path / "data", factory.root, docker_host=private_dockerd.host),
        merge(RECOVERY_ON, {
            "boot_id_path": str(boot_id),
            "notifications": {
                "group_window_seconds": 1, "retry_initial_seconds": 0.2,
                "channels": {"ops": {
                    "type": "email", "host": "127.0.0.1", "port": sink.port,
                    "security": "none", "from_address": "stackmedic@test.invalid",
                    "to": ["ops@test.invalid"],
                }},
            },
        }),
    )
    agent = AgentProcess(config, tmp_path / "agent")
    try:
        agent.start()
        for deployment in (plain, netted, policy, parked):
            wait_until(lambda d=deployment: _desired(agent, d.name) == "running", 30,
                       message=f"{deployment.name} first seen running")
        result = agent.cli("stop", parked.name)
        assert result.returncode == 0, result.stderr
        agent.kill()

        private_dockerd.stop()
        boot_id.write_text("boot-two\n")
        private_dockerd.start()
        private_dockerd.docker("network", "rm", network)
        agent.start()

        def summary_mail() -> str | None:
            with sink.lock:
                for mail in sink.mails:
                    if "recovered after host restart" in mail.text():
                        return mail.text()
            return None

        text = wait_until(summary_mail, 120, message="restart summary email")
        lines = {line.strip("- ").split(":", 1)[0]: line.split(":", 1)[1].strip()
                 for line in text.splitlines() if line.strip().startswith("- ")}
        assert lines["came back by itself"] == policy.name
        assert lines["brought back by stackmedic"] == (
            f"{netted.name} (recreate app), {plain.name} (start app)")
        assert lines["still down"] == "none"
        assert lines["left stopped on purpose"] == parked.name
        assert lines["networks recreated"] == network

        for deployment in (plain, netted, policy):
            assert deployment.states() == {"app": "running"}
        assert parked.states() == {"app": "exited"}
        assert _desired(agent, parked.name) == "stopped"
        events = agent.api("GET", "/api/events?kind=restart-detected").json()["items"]
        assert "host restart detected" in events[0]["message"]
    finally:
        agent.close()
        sink.stop()


def _desired(agent: AgentProcess, name: str) -> str | None:
    response = agent.api("GET", "/api/deployments")
    if response.status_code != 200:
        return None
    for row in response.json()["items"]:
        if row["name"] == name and row["desired"]:
            return str(row["desired"]["state"])
    return None
