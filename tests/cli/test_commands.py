"""Every CLI command against a live agent: what it prints and how it exits, as a table."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.agent import AgentProcess, agent_config, merge
from support.compose import crash_container
from support.deployments import DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.servers import HttpReceiver
from support.wait import wait_until

WHEN = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z][A-Za-z0-9+-]+"


@dataclass
class Case:
    """One command line, the exit code it must give and a check of what it prints."""

    args: list[str]
    code: int
    shape: str  # a regex that must match stdout (or stderr for failures)


def table(*columns: str) -> str:
    """A table whose header holds these columns in this order."""
    return r"^" + r" +".join(columns) + r"\b[^\n]*\n"


def cases(site: str) -> list[Case]:
    """The table: in order, since actions change what later commands see."""
    return [
        Case(["status"], 0, table("DEPLOYMENT", "DESIRED", "SOURCE", "OBSERVED", "HEALTH")
             + rf"^{site}\s+running\s+first-seen\s+running"),
        Case(["status", "--json"], 0, rf'"name": "{site}"'),
        Case(["health", site], 0, rf"^{site}: \w+( since {WHEN})?\nreason: "),
        Case(["health", site, "--json"], 0, r'"verdict":'),
        Case(["diagnose", site], 0, rf"^{site}: .+\nsource: "),
        Case(["restart", site], 0, rf"^{site}: restart done; desired state running"),
        Case(["stop", site], 0, rf"^{site}: stop done; desired state stopped \(source cli\)"),
        Case(["start", site], 0, rf"^{site}: start done; desired state running \(source cli\)"),
        Case(["events", "-d", site, "-n", "5"], 0,
             table("TIME", "SEVERITY", "KIND", "DEPLOYMENT", "MESSAGE") + rf"^{WHEN}\s+"),
        Case(["events", "--json"], 0, r'"items":'),
        Case(["notify", "test"], 0, r"^hook \(webhook\): sent in \d+\.\d\ds"),
        Case(["notify", "test", "nosuch"], 1, r"error \(404\): .*nosuch"),
        Case(["notify", "list"], 0,
             table("TIME", "SEVERITY", "DEPLOYMENT", "TITLE", "DELIVERIES") + rf"^{WHEN}\s+"),
        Case(["silence", site, "--hours", "2", "-r", "upgrade"], 0,
             rf"^silenced {site} until {WHEN} \(silence 1\)"),
        Case(["unsilence", "1"], 0, r"^silence 1 ended"),
        Case(["unsilence", "1"], 1, r"error \(404\): no silence 1"),
        Case(["silence", "no-such-site"], 1, r"error \(404\): no deployment named"),
        Case(["silence", "../etc"], 1, r"error \(422\): invalid request: body.deployment"),
        Case(["health", "no-such-site"], 1, r"error \(404\): no deployment named"),
        Case(["down", site], 0, rf"^{site}: down done; desired state stopped"),
        Case(["config", "check"], 0, r"^configuration is valid; deployments from "),
        Case(["config", "example"], 0, r"^api:\n"),
        Case(["check"], 0, r"^ok: Docker reachable; loops alive: .*events"),
        Case(["check", "--json"], 0, r'"status": "ok"'),
    ]


def run_case(agent: AgentProcess, case: Case) -> None:
    """Run one case and check its exit code and output."""
    result = agent.cli(*case.args)
    shown = f"{case.args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.returncode == case.code, shown
    output = result.stdout if case.code == 0 else result.stderr
    assert re.search(case.shape, output, re.MULTILINE), shown


@pytest.mark.docker
def test_every_command_against_a_live_agent(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    receiver: HttpReceiver,
) -> None:
    site = private_deployments.make("cli", {"web": service("sleep 3600")})
    site.up()
    config = merge(
        agent_config(tmp_path / "data", private_deployments.root,
                     docker_host=private_dockerd.host),
        {"notifications": {"group_window_seconds": 0.2,
                           "channels": {"hook": {"type": "webhook", "url": receiver.url}}}},
    )
    agent = AgentProcess(config, tmp_path / "agent")
    try:
        agent.start()
        wait_until(lambda: site.name in agent.cli("status").stdout, 30, message="listed")
        # A crash makes a notification with a delivery, so `notify list` has rows to show.
        crash_container(site.container_ids()[0], docker_host=private_dockerd.host)
        wait_until(lambda: agent.api("GET", "/api/notifications").json()["items"], 60,
                   message="a notification recorded")
        site.up()
        wait_until(lambda: "running" in agent.cli("status").stdout.split(site.name)[1]
                   .splitlines()[0], 60, message="running again")
        for case in cases(site.name):
            run_case(agent, case)
    finally:
        agent.close()


def test_commands_fail_clearly_without_an_agent_or_with_a_bad_config(tmp_path: Path) -> None:
    (tmp_path / "deployments").mkdir()
    config = agent_config(tmp_path / "data", tmp_path / "deployments",
                          docker_host=f"unix://{tmp_path}/missing.sock")
    agent = AgentProcess(config, tmp_path / "agent")
    try:
        agent.start()
        # What `make run` shows first: where the dashboard is and where its token is.
        told = wait_until(lambda: _logged(agent, "dashboard ready"), 30,
                          message="address logged")
        line = next(x for x in told.splitlines() if "dashboard ready" in x)
        assert f"http://127.0.0.1:{agent.port}/" in line, line
        assert str(tmp_path / "data" / "api-token") in line, line
        assert agent.token() not in told
        run_case(agent, Case(["notify", "test"], 1,
                             r"no notification channels are configured"))
        run_case(agent, Case(["status"], 0, r"^no deployments found"))
        # No Docker behind this agent: `check` names the problem and exits 1.
        probe = agent.cli("check")
        assert probe.returncode == 1, probe.stdout + probe.stderr
        assert re.search(r"^degraded \(HTTP 503\):\n  - Docker unreachable at unix://",
                         probe.stdout), probe.stdout
    finally:
        agent.close()
    run_case(agent, Case(["status"], 3, r"no stackmedic agent answers at http://127\.0\.0\.1"))
    run_case(agent, Case(["check"], 3, r"^unhealthy: no stackmedic agent answers at "))
    agent.config_path.chmod(0o666)
    loose = agent.cli("config", "check")
    assert loose.returncode == 0, loose.stderr
    assert f"warning: {agent.config_path} is writable by other users" in loose.stderr
    agent.config_path.write_text("api: [not, a, mapping]\n")
    checks: list[tuple[list[str], Callable[[str], bool]]] = [
        (["status"], lambda err: "api: must be a mapping" in err),
        (["config", "check"], lambda err: "api" in err),
    ]
    for args, says in checks:
        result = agent.cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert says(result.stderr), (args, result.stderr)


def _logged(agent: AgentProcess, words: str) -> str | None:
    """The agent's log once it holds ``words``."""
    text = agent.log_path.read_text()
    return text if words in text else None
