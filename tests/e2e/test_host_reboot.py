"""A simulated host reboot: deployments come back on their own or by stackmedic, except the
one the user stopped, and one email tells what happened."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from stackmedic.observe.containers import parse_time
from support import zoo
from support.agent import RECOVERY_ON, AgentProcess, agent_config, merge
from support.deployments import Deployment, DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.lifecycle import desired_state
from support.servers import SmtpSink
from support.wait import wait_until

pytestmark = pytest.mark.docker


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
            wait_until(lambda d=deployment: desired_state(agent, d.name) == "running", 30,
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
        assert desired_state(agent, parked.name) == "stopped"
        events = agent.api("GET", "/api/events?kind=restart-detected").json()["items"]
        assert "host restart detected" in events[0]["message"]
    finally:
        agent.close()
        sink.stop()


# -- the zoo: real service behaviours through a reboot and a daemon restart -------------

ZOO_SUMMARY: dict[str, list[Any]] = {
    "came back by itself": ["graceful-policy", "slow-policy"],
    "brought back by stackmedic": [
        ("graceful", "start app"), ("ignorer", "start app"), ("jobs", "start app"),
        ("pair", "start main, start side"), ("plain", "start app"), ("slow", "start app"),
    ],
    "still down": [],
    "jobs completed": [("jobs", "migrate")],
}


def _zoo(factory: DeploymentFactory) -> dict[str, Deployment]:
    made = {
        "graceful": factory.make("graceful", {"app": zoo.graceful()}),
        "graceful-policy": factory.make(
            "graceful-policy", {"app": zoo.graceful(restart="unless-stopped")}),
        "ignorer": factory.make("ignorer", {"app": zoo.ignores_term()}),
        "plain": factory.make("plain", {"app": zoo.exits_143()}),
        "jobs": factory.make("jobs", {"migrate": zoo.migration(),
                                      "app": zoo.after_migration()}),
        "slow": factory.make("slow", {"app": zoo.slow_starter()}),
        "slow-policy": factory.make("slow-policy", {"app": zoo.slow_starter(restart="always")}),
        "pair": factory.make("pair", {"main": zoo.graceful(), "side": zoo.sidecar()}),
    }
    for deployment in made.values():
        deployment.up("--wait", timeout=180)
    return made


def _short(factory: DeploymentFactory, text: str) -> str:
    return text.replace(f"{factory.prefix}-", "")


def _summary_lines(factory: DeploymentFactory, text: str) -> dict[str, str]:
    return {line.strip("- ").split(":", 1)[0]: _short(factory, line.split(":", 1)[1].strip())
            for line in text.splitlines() if line.strip().startswith("- ")}


def _expected_line(items: list[Any]) -> str:
    if not items:
        return "none"
    return ", ".join(i if isinstance(i, str) else f"{i[0]} ({i[1]})" for i in items)


def _started_at(private_dockerd: PrivateDockerd, container_id: str) -> float:
    out = private_dockerd.docker("inspect", "--format", "{{.State.StartedAt}}", container_id)
    started = parse_time(out.stdout.strip())
    assert started is not None
    return started


def _check_zoo_summary(agent: AgentProcess, factory: DeploymentFactory,
                       private_dockerd: PrivateDockerd, made: dict[str, Deployment],
                       text: str | None, restarted_at: float) -> None:
    """The summary, line by line, and each line against the engine's own start times."""
    assert text is not None
    lines = _summary_lines(factory, text)
    for key, items in ZOO_SUMMARY.items():
        assert lines[key] == _expected_line(items), (key, text)
    assert "not accounted for" not in text
    for name, deployment in made.items():
        states = deployment.states()
        want = {s: "running" for s in states}
        if name == "jobs":
            want["migrate"] = "exited"
        assert states == want, name
        events = agent.api(
            "GET", f"/api/events?kind=recovery-started&deployment={deployment.name}"
        ).json()["items"]
        acted = [e["ts"] for e in events if e["ts"] >= restarted_at]
        running = [r["ID"] for r in deployment.ps() if r["State"] == "running"]
        starts = [_started_at(private_dockerd, cid) for cid in running]
        assert all(s >= restarted_at - 1 for s in starts), name  # all started after it
        if name in lines["came back by itself"].split(", "):
            assert acted == [], name  # stackmedic never acted on it
        else:
            # Brought back: its containers started after stackmedic began to act.
            assert acted, name
            assert min(starts) >= min(acted) - 1, name


def _summary_mail(sink: SmtpSink, phrase: str) -> str | None:
    with sink.lock:
        for mail in sink.mails:
            if phrase in mail.text():
                return mail.text()
    return None


def _zoo_agent(tmp_path: Path, factory: DeploymentFactory, private_dockerd: PrivateDockerd,
               boot_id: Path, sink: SmtpSink) -> AgentProcess:
    config = merge(
        agent_config(tmp_path / "data", factory.root, docker_host=private_dockerd.host),
        merge(RECOVERY_ON, {
            "boot_id_path": str(boot_id),
            "recovery": {"boot_parallelism": 8, "verify_timeout_seconds": 40},
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
    return AgentProcess(config, tmp_path / "agent")


def test_host_reboot_with_real_service_behaviours_reports_only_what_was_verified(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory
) -> None:
    factory = private_deployments
    made = _zoo(factory)
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("boot-one\n")
    sink = SmtpSink().start()
    agent = _zoo_agent(tmp_path, factory, private_dockerd, boot_id, sink)
    try:
        agent.start()
        for deployment in made.values():
            wait_until(lambda d=deployment: desired_state(agent, d.name) == "running", 60,
                       message=f"{deployment.name} first seen running")
            wait_until(lambda d=deployment: _verdict(agent, d.name) == "healthy", 60,
                       message=f"{deployment.name} healthy before the reboot")
        agent.kill()
        private_dockerd.stop()
        boot_id.write_text("boot-two\n")
        restarted_at = time.time()
        private_dockerd.start()
        agent.start()
        text = wait_until(lambda: _summary_mail(sink, "recovered after host restart"), 240,
                          message="restart summary email")
        _check_zoo_summary(agent, factory, private_dockerd, made, text, restarted_at)
        # A restart is one mail: no per-deployment "is down" or "recovered" besides it.
        assert sink.count() == 1, [m.text().splitlines()[0] for m in sink.mails]
    finally:
        agent.close()
        sink.stop()


def test_daemon_restart_with_real_service_behaviours_reports_only_what_was_verified(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory
) -> None:
    factory = private_deployments
    made = _zoo(factory)
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("boot-one\n")
    sink = SmtpSink().start()
    agent = _zoo_agent(tmp_path, factory, private_dockerd, boot_id, sink)
    try:
        agent.start()
        for deployment in made.values():
            wait_until(lambda d=deployment: _verdict(agent, d.name) == "healthy", 60,
                       message=f"{deployment.name} healthy before the daemon restart")
        restarted_at = time.time()
        private_dockerd.restart()
        text = wait_until(lambda: _summary_mail(sink, "recovered after daemon restart"), 240,
                          message="restart summary email")
        _check_zoo_summary(agent, factory, private_dockerd, made, text, restarted_at)
        # A restart is one mail: no per-deployment "is down" or "recovered" besides it.
        assert sink.count() == 1, [m.text().splitlines()[0] for m in sink.mails]
    finally:
        agent.close()
        sink.stop()


def _verdict(agent: AgentProcess, name: str) -> str | None:
    response = agent.api("GET", f"/api/deployments/{name}/health")
    if response.status_code != 200:
        return None
    return str(response.json().get("verdict"))
