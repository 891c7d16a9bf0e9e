"""The outbox across an agent kill: a notice queued while the SMTP server is down arrives
once, after the agent is SIGKILLed and started again and the server is back."""

from __future__ import annotations

from pathlib import Path

from support.agent import AgentProcess, agent_config, merge
from support.compose import crash_container
from support.deployments import DeploymentFactory, service
from support.servers import SmtpSink, free_port
from support.wait import wait_until


def test_notification_survives_agent_kill_and_smtp_outage(
    tmp_path: Path, deployments: DeploymentFactory
) -> None:
    site = deployments.make("outage", {"web": service("sleep 3600")})
    site.up()
    port = free_port()
    config = merge(agent_config(tmp_path / "data", deployments.root), {"notifications": {
        "group_window_seconds": 0.5, "retry_initial_seconds": 0.2, "retry_max_seconds": 0.5,
        "channels": {"ops": {
            "type": "email", "host": "127.0.0.1", "port": port, "security": "none",
            "from_address": "stackmedic@test.invalid", "to": ["ops@test.invalid"],
        }},
    }})
    agent = AgentProcess(config, tmp_path / "agent")
    sink: SmtpSink | None = None
    try:
        agent.start()
        wait_until(lambda: site.name in agent.cli("status").stdout, 30, message="listed")
        crash_container(site.container_ids()[0])

        def failed_attempt() -> bool:
            body = agent.api("GET", "/api/notifications").json()
            return any(d["attempts"] >= 1 and d["status"] != "sent"
                       for n in body["items"] for d in n["deliveries"])

        wait_until(failed_attempt, 60, message="a delivery attempt failed")
        agent.kill()
        sink = SmtpSink(port=port).start()
        agent.start()
        wait_until(lambda: sink is not None and sink.count() >= 1, 60,
                   message="email delivered after restart")
        with sink.lock:
            mail = sink.mails[0]
        assert site.name in str(mail.message["Subject"])
        assert "137" in mail.text()  # the kill's exit code
        def statuses() -> list[str]:
            body = agent.api("GET", "/api/notifications").json()
            return [d["status"] for n in body["items"] for d in n["deliveries"]]

        # The mail arrives a moment before the agent records it as sent.
        wait_until(lambda: statuses() == ["sent"], 30, message="delivery recorded as sent")
        body = agent.api("GET", "/api/notifications").json()
        keys = {n["idempotency_key"] for n in body["items"]}
        assert len(keys) == 1
        assert mail.message["Message-ID"] and next(iter(keys)) in mail.message["Message-ID"]
        assert sink.count() == 1
    finally:
        agent.close()
        if sink is not None:
            sink.stop()
