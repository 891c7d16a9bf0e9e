"""The core end-to-end paths on each engine: verdicts, crash recovery with a mail, a person's
stop kept as intent, and a host reboot with its one summary mail.

The Podman variant runs a private rootful ``podman system service`` with Compose pointed
at its socket; there is no systemd here, so stackmedic runs Podman's healthchecks itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.agent import RECOVERY_ON, AgentHandle, AgentProcess, agent_config, merge, running_agent
from support.compose import crash_container, run_docker
from support.deployments import service
from support.servers import ReceivedMail, SmtpSink
from support.wait import async_assert_holds, async_wait_until, wait_until

from .conftest import Engine

pytestmark = pytest.mark.docker

HEALTHCHECK = {"test": ["CMD-SHELL", "test -f /tmp/ok"], "interval": "1s", "timeout": "2s",
               "retries": 2}


def mail_config(sink: SmtpSink) -> dict[str, Any]:
    return {"notifications": {
        "group_window_seconds": 1, "retry_initial_seconds": 0.2,
        "channels": {"ops": {
            "type": "email", "host": "127.0.0.1", "port": sink.port, "security": "none",
            "from_address": "stackmedic@test.invalid", "to": ["ops@test.invalid"],
        }},
    }}


def mails_with(sink: SmtpSink, words: str) -> list[ReceivedMail]:
    with sink.lock:
        return [m for m in sink.mails if words in m.text()]


async def verdict(h: AgentHandle, name: str) -> str:
    return str((await h.get(f"/api/deployments/{name}/health"))["verdict"])


async def service_status(h: AgentHandle, name: str, service_name: str) -> str:
    services = (await h.get(f"/api/deployments/{name}/health"))["services"]
    return str(services.get(service_name, {}).get("status"))


async def test_verdicts_healthy_down_and_unhealthy(tmp_path: Path, engine: Engine) -> None:
    factory = engine.factory
    fine = factory.make("fine", {"web": service("touch /tmp/ok; sleep 3600",
                                                healthcheck=HEALTHCHECK)})
    sick = factory.make("sick", {"web": service("touch /tmp/ok; sleep 3600",
                                                healthcheck=HEALTHCHECK)})
    dead = factory.make("dead", {"web": service("sleep 3600")})
    for deployment in (fine, sick, dead):
        deployment.up()
    async with running_agent(tmp_path / "data", factory.root, docker_host=engine.host) as h:
        for deployment in (fine, sick):
            await async_wait_until(lambda d=deployment: _is(verdict(h, d.name), "healthy"), 30,
                                   message=f"{deployment.name} healthy")
        await async_wait_until(lambda: _is(verdict(h, dead.name), "healthy"), 30,
                               message="dead healthy before its crash")
        crash_container(dead.container_ids()[0], docker_host=engine.host)
        await async_wait_until(lambda: _is(verdict(h, dead.name), "down"), 30,
                               message="a service that crashed is down")
        # A check that starts failing flips the verdict: on Podman only because stackmedic
        # runs the checks (no systemd timer does here).
        sick_id = sick.container_ids()[0]
        run_docker("exec", sick_id, "rm", "/tmp/ok", docker_host=engine.host)
        await async_wait_until(lambda: _is(service_status(h, sick.name, "web"), "unhealthy"),
                               30, message="sick's failing healthcheck seen")
        assert await verdict(h, sick.name) in ("degraded", "down")
        assert await verdict(h, fine.name) == "healthy"
        run_docker("exec", sick_id, "touch", "/tmp/ok", docker_host=engine.host)
        await async_wait_until(lambda: _is(verdict(h, sick.name), "healthy"), 30,
                               message="sick healthy again")
        identity = h.agent.engine.identity
        assert identity is not None
        assert (identity.kind.value, identity.rootless) == (engine.kind, engine.rootless)
        said = (await h.get("/api/events?kind=healthchecks-run-by-stackmedic"))["items"]
        healthz = (await h.api.get("/healthz")).json()["docker"]["healthchecks"]
        if engine.kind == "podman":
            assert len(said) == 1, said  # said once, not per container or per check
            assert "no systemd timer" in said[0]["message"]
            assert healthz["run_by_stackmedic"] is True
        else:
            assert said == []
            assert healthz is None


async def _is(value: Any, wanted: str) -> bool:
    return bool(await value == wanted)


async def test_a_crash_is_recovered_and_mailed(tmp_path: Path, engine: Engine) -> None:
    factory = engine.factory
    site = factory.make("crashy", {"web": service("sleep 3600")})
    site.up()
    sink = SmtpSink().start()
    try:
        async with running_agent(tmp_path / "data", factory.root, docker_host=engine.host,
                                 **merge(RECOVERY_ON, mail_config(sink))) as h:
            await async_wait_until(lambda: _is(verdict(h, site.name), "healthy"), 30,
                                   message="healthy before the crash")
            before = site.container_ids()[0]
            crash_container(before, docker_host=engine.host)  # no one's stop
            down = await async_wait_until(lambda: mails_with(sink, site.name), 60,
                                          message="the crash mailed")
            assert "137" in down[0].text()
            await async_wait_until(lambda: site.states() == {"web": "running"}, 60,
                                   message="stackmedic brought web back")
            await async_wait_until(lambda: _is(verdict(h, site.name), "healthy"), 60,
                                   message="healthy after the recovery")
            runs = await h.get(f"/api/recoveries?deployment={site.name}")
            assert runs["items"], "a recovery run is recorded"
            assert (await h.desired(site.name) or {}).get("state") == "running"
    finally:
        sink.stop()


async def test_a_persons_stop_is_kept_as_intent(tmp_path: Path, engine: Engine) -> None:
    factory = engine.factory
    site = factory.make("parked", {"web": service("sleep 3600", stop_grace_period="1s")})
    site.up()
    sink = SmtpSink().start()
    try:
        async with running_agent(tmp_path / "data", factory.root, docker_host=engine.host,
                                 **merge(RECOVERY_ON, mail_config(sink))) as h:
            await async_wait_until(lambda: _is(verdict(h, site.name), "healthy"), 30,
                                   message="healthy before the stop")
            site.stop()
            desired = await async_wait_until(
                lambda: _desired_stopped(h, site.name), 30, message="the stop taken as intent")
            assert desired["source"] == "observed-stop"
            await async_wait_until(lambda: _is(verdict(h, site.name), "stopped"), 30,
                                   message="verdict stopped")
            # Nothing brings it back and nobody is told of a problem.
            await async_assert_holds(lambda: site.states() == {"web": "exited"}, 3,
                                     message="left stopped")
            assert sink.count() == 0, [m.text()[:200] for m in sink.mails]
    finally:
        sink.stop()


async def _desired_stopped(h: AgentHandle, name: str) -> dict[str, Any] | None:
    desired = await h.desired(name)
    return desired if desired and desired.get("state") == "stopped" else None


@pytest.mark.parametrize(("engine", "restart_service"), [
    ("docker", False), ("podman", False), ("podman", True),
], indirect=["engine"], ids=["docker", "podman", "podman-restart-unit"])
def test_a_reboot_is_one_summary_mail(tmp_path: Path, engine: Engine,
                                      restart_service: bool) -> None:
    """Docker restarts restart-policy containers at boot; Podman only through
    ``podman-restart.service`` (simulated by running what it runs), else stackmedic does."""
    factory = engine.factory
    plain = factory.make("plain", {"app": service("sleep 3600")})
    policy = factory.make("policy", {"app": service("sleep 3600", restart="always")})
    parked = factory.make("parked", {"app": service("sleep 3600")})
    for deployment in (plain, policy, parked):
        deployment.up()
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("boot-one\n")
    sink = SmtpSink().start()
    config = merge(agent_config(tmp_path / "data", factory.root, docker_host=engine.host),
                   merge(RECOVERY_ON, {"boot_id_path": str(boot_id), **mail_config(sink)}))
    agent = AgentProcess(config, tmp_path / "agent")
    try:
        agent.start()
        for deployment in (plain, policy, parked):
            wait_until(lambda d=deployment: _desired(agent, d.name) == "running", 30,
                       message=f"{deployment.name} first seen running")
        result = agent.cli("stop", parked.name)
        assert result.returncode == 0, result.stderr
        agent.kill()
        assert engine.reboot is not None
        engine.reboot(boot_id, "boot-two")
        if restart_service:
            assert engine.restart_unit is not None
            engine.restart_unit()
        agent.start()
        text = wait_until(lambda: _mail_text(sink, "recovered after host restart"), 120,
                          message="restart summary email")
        lines = {line.strip("- ").split(":", 1)[0]: line.split(":", 1)[1].strip()
                 for line in text.splitlines() if line.strip().startswith("- ")}
        if engine.kind == "docker" or restart_service:
            assert lines["came back by itself"] == policy.name, text
            assert lines["brought back by stackmedic"] == f"{plain.name} (start app)", text
        else:
            assert lines["came back by itself"] == "none", text
            assert lines["brought back by stackmedic"] == (
                f"{plain.name} (start app), {policy.name} (start app)"), text
        assert lines["still down"] == "none", text
        assert lines["left stopped on purpose"] == parked.name, text
        assert "not accounted for" not in text
        for deployment in (plain, policy):
            assert deployment.states() == {"app": "running"}
        assert parked.states()["app"] in ("exited", "created")
        assert _desired(agent, parked.name) == "stopped"
        assert sink.count() == 1, [m.text().splitlines()[0] for m in sink.mails]
    finally:
        agent.close()
        sink.stop()


def _mail_text(sink: SmtpSink, phrase: str) -> str | None:
    found = mails_with(sink, phrase)
    return found[0].text() if found else None


def _desired(agent: AgentProcess, name: str) -> str | None:
    response = agent.api("GET", "/api/deployments")
    if response.status_code != 200:
        return None
    for row in response.json()["items"]:
        if row["name"] == name and row["desired"]:
            return str(row["desired"]["state"])
    return None
