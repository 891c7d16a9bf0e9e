"""Rows of the behaviour matrix about Docker's restart policies and who restarts a container.

Each test is one row (or one row's parameters) of ``docs/behaviour.md``: a real service
under a restart policy on the module's private dockerd, an agent with recovery on and an
email channel to a real SMTP sink, and what a user would notice: the mails, the recovery
runs, the desired state and what runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support import zoo
from support.agent import RECOVERY_ON, AgentProcess, agent_config, merge
from support.deployments import Deployment, DeploymentFactory
from support.dockerd import PrivateDockerd
from support.servers import SmtpSink
from support.wait import assert_holds, wait_until

pytestmark = pytest.mark.docker

# Long enough for anything a stop or a crash would set off to have shown (settle,
# recovery's settle, a mail through the outbox).
QUIET_SECONDS = 6.0


@dataclass
class Mail:
    """One mail as a user reads it."""

    subject: str
    text: str

    @property
    def problem(self) -> bool:
        """A health problem notice (``CRITICAL PROBLEM``, ``WARNING PROBLEM``); a log
        pattern's notice is its own problem."""
        return "PROBLEM" in self.subject and "log-pattern]" not in self.text

    @property
    def resolved(self) -> bool:
        """A resolution notice."""
        return "RESOLVED" in self.subject

    @property
    def gave_up(self) -> bool:
        """Recovery gave up."""
        return "gave up" in self.subject


@dataclass
class Row:
    """One row's agent, its mail sink and its deployments."""

    agent: AgentProcess
    sink: SmtpSink
    factory: DeploymentFactory
    dockerd: PrivateDockerd

    def mails(self, site: Deployment) -> list[Mail]:
        """The mails about ``site``, in the order they arrived."""
        with self.sink.lock:
            found = [Mail(str(m.message["Subject"]), m.text()) for m in self.sink.mails]
        return [m for m in found if site.name in m.subject or site.name in m.text]

    def runs(self, site: Deployment) -> list[dict[str, Any]]:
        """Recovery runs of ``site``, oldest first."""
        body = self.agent.api("GET", f"/api/recoveries?deployment={site.name}").json()
        return list(reversed(body["items"]))

    def health(self, site: Deployment) -> dict[str, Any]:
        """The deployment's verdict as the API gives it."""
        body: dict[str, Any] = self.agent.api(
            "GET", f"/api/deployments/{site.name}/health").json()
        return body

    def desired(self, site: Deployment) -> dict[str, Any] | None:
        """The deployment's desired state record."""
        for row in self.agent.api("GET", "/api/deployments").json()["items"]:
            if row["name"] == site.name:
                desired: dict[str, Any] | None = row["desired"]
                return desired
        return None

    def started_by_a_person(self, site: Deployment) -> None:
        """``compose up`` while the agent watches: the deployment is wanted running."""
        wait_until(lambda: self.desired(site), 30, message=f"{site.name} listed")
        site.up()
        wait_until(lambda: (self.desired(site) or {}).get("state") == "running", 30,
                   message=f"{site.name} wanted running")

    def up_and_healthy(self, site: Deployment) -> None:
        """Started by a person and seen healthy."""
        self.started_by_a_person(site)
        wait_until(lambda: self.health(site).get("verdict") == "healthy", 60,
                   message=f"{site.name} healthy")

    def container(self, site: Deployment, service: str = "app") -> str:
        """The id of the service's container."""
        return next(str(r["ID"]) for r in site.ps() if r["Service"] == service)

    def docker(self, *args: str) -> None:
        """A person's docker CLI command on the row's daemon."""
        self.dockerd.docker(*args)


@pytest.fixture
def row(tmp_path: Path, private_dockerd: PrivateDockerd,
        private_deployments: DeploymentFactory) -> Iterator[Row]:
    """An agent with recovery on and mail to a real SMTP sink, watching the private daemon."""
    sink = SmtpSink().start()
    config = merge(
        agent_config(tmp_path / "data", private_deployments.root,
                     docker_host=private_dockerd.host),
        merge(RECOVERY_ON, {"notifications": {
            "group_window_seconds": 1, "retry_initial_seconds": 0.2,
            "channels": {"ops": {
                "type": "email", "host": "127.0.0.1", "port": sink.port, "security": "none",
                "from_address": "stackmedic@test.invalid", "to": ["ops@test.invalid"],
            }},
        }}),
    )
    agent = AgentProcess(config, tmp_path / "agent")
    try:
        agent.start()
        yield Row(agent, sink, private_deployments, private_dockerd)
    finally:
        agent.close()
        sink.stop()


def _quiet(row: Row, site: Deployment, seconds: float = QUIET_SECONDS,
           timeout: float = 90.0) -> list[Mail]:
    """The mails about ``site`` once none came for ``seconds`` (within ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        before = len(row.mails(site))

        def unchanged(count: int = before) -> bool:
            return len(row.mails(site)) == count

        try:
            assert_holds(unchanged, seconds, message="quiet")
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"mails about {site.name} never stopped: "
                    f"{[m.subject for m in row.mails(site)]}") from None
            continue
        return row.mails(site)


# -- a loop Docker's restart policy keeps going ------------------------------------------

@pytest.mark.parametrize(("policy", "code"), [
    ("always", 3), ("unless-stopped", 3), ("on-failure", 3), ("always", 0),
])
def test_loop_policy_restarts(row: Row, policy: str, code: int) -> None:
    site = row.factory.make("loop", {"app": zoo.crash_looper(after=2, code=code,
                                                             restart=policy)})
    row.started_by_a_person(site)
    wait_until(lambda: [m for m in row.mails(site) if m.gave_up], 150, message="gave up")
    mails = _quiet(row, site)
    problems = [m for m in mails if m.problem]
    assert len(problems) == 1, [m.subject for m in mails]
    assert "crash-looping" in problems[0].text
    assert f"exit codes {code}, {code}, {code}" in problems[0].text
    assert not [m for m in mails if m.resolved], [m.subject for m in mails]
    gave_up = [m for m in mails if m.gave_up]
    assert len(gave_up) == 1
    assert f"exit codes {code}" in gave_up[0].text
    assert "fatal config error" in gave_up[0].text  # its last log lines
    runs = row.runs(site)
    # Never a start or restart of a container Docker is restarting: one fresh container.
    assert [[a["action"] for a in r["actions"]] for r in runs] == [["recreate"], []]
    assert [r["outcome"] for r in runs] == ["failed", "gave-up"]
    assert (row.desired(site) or {})["state"] == "running"
    # stackmedic gave up acting; Docker's policy goes on restarting it.
    assert site.states()["app"] in ("running", "restarting")


def test_loop_on_failure_retries_used_up(row: Row) -> None:
    site = row.factory.make("retries", {"app": zoo.crash_looper(after=2,
                                                                restart="on-failure:2")})
    row.started_by_a_person(site)
    wait_until(lambda: [m for m in row.mails(site) if m.gave_up], 150, message="gave up")
    mails = _quiet(row, site)
    problems = [m for m in mails if m.problem]
    assert len(problems) == 1, [m.subject for m in mails]
    assert "exit codes 3, 3, 3" in problems[0].text
    assert not [m for m in mails if m.resolved]
    runs = row.runs(site)
    # Docker's policy stopped after 2 retries: stackmedic acts as without a policy.
    assert runs[0]["actions"][0]["action"] == "start"
    assert "does not restart it any more" in runs[0]["diagnosis"]["summary"]
    assert [r["outcome"] for r in runs][-1] == "gave-up"
    actions = [a["action"] for r in runs for a in r["actions"]]
    assert "restart" not in actions and actions.count("recreate") <= 1


def test_oom_loop_policy_restarts(row: Row) -> None:
    site = row.factory.make("hog", {"app": zoo.memory_hog(restart="always")})
    row.started_by_a_person(site)
    wait_until(lambda: [m for m in row.mails(site) if m.problem], 90, message="problem mail")
    wait_until(lambda: row.runs(site) and row.runs(site)[-1]["outcome"] != "running", 90,
               message="recovery decided")
    mails = _quiet(row, site, 10)
    problems = [m for m in mails if m.problem]
    assert len(problems) == 1, [m.subject for m in mails]
    assert "crash-looping" in problems[0].text and "OOM" in problems[0].text
    assert "137" in problems[0].text
    assert not [m for m in mails if m.resolved], [m.subject for m in mails]
    gave_up = [m for m in mails if m.gave_up]
    assert len(gave_up) <= 1
    assert [a for r in row.runs(site) for a in r["actions"]] == []  # nothing to race Docker
    assert gave_up and "OOM-killed" in gave_up[0].text
    assert row.health(site)["verdict"] == "down"


# -- a person's docker kill --------------------------------------------------------------

@pytest.mark.parametrize(("policy", "signal"), [
    ("no", "KILL"), ("always", "KILL"), ("unless-stopped", "KILL"), ("on-failure", "KILL"),
    ("always", "TERM"),
])
def test_kill_person(row: Row, policy: str, signal: str) -> None:
    spec = zoo.exits_143 if signal == "TERM" else zoo.graceful
    site = row.factory.make("kill", {"app": spec(restart=policy)})
    row.up_and_healthy(site)
    row.docker("kill", "--signal", signal, row.container(site))
    wait_until(lambda: (row.desired(site) or {}).get("state") == "stopped", 30,
               message="desired stopped")
    desired = row.desired(site) or {}
    assert desired["source"] == "observed-stop"
    wait_until(lambda: row.health(site).get("verdict") == "stopped", 30, message="stopped")
    assert _quiet(row, site) == []  # no problem, no resolution
    assert row.runs(site) == []
    assert site.states() == {"app": "exited"}  # neither Docker nor stackmedic undid it


def test_kill_signal_it_outlives(row: Row) -> None:
    site = row.factory.make("hup", {"app": zoo.graceful(restart="always")})
    row.up_and_healthy(site)
    before = row.container(site)
    row.docker("kill", "--signal", "HUP", before)
    assert_holds(lambda: row.health(site).get("verdict") == "healthy", QUIET_SECONDS,
                 message="still healthy")
    assert (row.desired(site) or {})["state"] == "running"
    assert row.mails(site) == [] and row.runs(site) == []
    assert site.states() == {"app": "running"} and row.container(site) == before


def test_kill_during_own_start(row: Row) -> None:
    site = row.factory.make("race", {"app": zoo.graceful(restart="always")})
    row.up_and_healthy(site)
    assert row.agent.cli("stop", site.name).returncode == 0
    wait_until(lambda: site.states() == {"app": "exited"}, 30, message="stopped")
    starting = threading.Thread(target=row.agent.cli, args=("start", site.name))
    starting.start()
    try:
        wait_until(lambda: site.states() == {"app": "running"}, 60, interval=0.01,
                   message="started by stackmedic")
        row.docker("kill", row.container(site))  # at once, while stackmedic may still act
    finally:
        starting.join(120)
    wait_until(lambda: (row.desired(site) or {}).get("state") == "stopped", 30,
               message="the person's kill is intent")
    wait_until(lambda: row.health(site).get("verdict") == "stopped", 30, message="stopped")
    assert _quiet(row, site) == []
    assert row.runs(site) == []
    assert site.states() == {"app": "exited"}


def test_rm_force_person(row: Row) -> None:
    site = row.factory.make("gone", {"app": zoo.graceful(restart="always")})
    row.up_and_healthy(site)
    row.docker("rm", "--force", row.container(site))
    wait_until(lambda: (row.desired(site) or {}).get("state") == "stopped", 30,
               message="desired stopped")
    wait_until(lambda: row.health(site).get("verdict") == "stopped", 30, message="stopped")
    assert _quiet(row, site) == []
    assert row.runs(site) == []
    assert site.ps() == []  # not created again


# -- a clean exit under on-failure ---------------------------------------------------------

@pytest.mark.parametrize("policy", ["on-failure", "on-failure:3"])
def test_exit0_on_failure(row: Row, policy: str) -> None:
    site = row.factory.make("job", {"web": zoo.graceful(),
                                    "job": zoo.migration(restart=policy)})
    row.started_by_a_person(site)
    # (A start of the deployment read before the job's own start marks the job stopped
    # for a moment, until its start is read: wait for the settled verdict.)
    health = wait_until(lambda: _healthy(row, site, job="completed"), 60,
                        message="healthy, the job completed")
    assert health is not None
    assert "job completed" in health["reason"]
    assert _quiet(row, site) == []
    assert row.runs(site) == []
    assert site.states() == {"web": "running", "job": "exited"}


def _healthy(row: Row, site: Deployment, **statuses: str) -> dict[str, Any] | None:
    health = row.health(site)
    services = health.get("services") or {}
    if health.get("verdict") != "healthy" or any(
            (services.get(name) or {}).get("status") != status
            for name, status in statuses.items()):
        return None
    return health


# -- no restart policy: stackmedic is the one to restart it --------------------------------

def test_crash_no_policy(row: Row) -> None:
    site = row.factory.make("once", {"app": zoo.flaky_starter(crashes=1)})
    row.started_by_a_person(site)
    wait_until(lambda: [m for m in row.mails(site) if m.resolved]
               and [m for m in row.mails(site) if "recovered by stackmedic" in m.subject],
               90, message="resolved, and recovered by stackmedic")
    mails = _quiet(row, site)
    subjects = [m.subject for m in mails]
    # Told once: a problem then its resolution, or (healed inside the notifier's group
    # window) one resolution saying what it was.
    told = [m for m in mails if m.problem or m.resolved]
    assert len([m for m in told if m.problem]) <= 1, subjects
    assert len([m for m in told if m.resolved]) == 1, subjects
    assert "exited with code 3" in told[0].text, subjects
    runs = row.runs(site)
    assert [[a["action"] for a in r["actions"]] for r in runs] == [["start"]]
    assert runs[0]["outcome"] == "recovered"
    assert site.states() == {"app": "running"}


# -- the daemon's shutdown kills it ---------------------------------------------------------

def test_kill_in_shutdown_burst(row: Row) -> None:
    # It ignores SIGTERM: the shutdown ends it with SIGKILL after its stop grace period.
    site = row.factory.make("burst", {"app": zoo.ignores_term(restart="always")})
    row.up_and_healthy(site)
    row.dockerd.restart()
    wait_until(lambda: site.states() == {"app": "running"}, 60,
               message="Docker's policy brought it back")
    wait_until(lambda: row.health(site).get("verdict") == "healthy", 60, message="healthy")
    desired = row.desired(site) or {}
    assert desired["state"] == "running" and desired["source"] != "observed-stop"
    changed = row.agent.api(
        "GET", f"/api/events?deployment={site.name}&kind=intent-changed").json()["items"]
    assert [e for e in changed if "stopped outside stackmedic" in e["message"]] == []
    mails = _quiet(row, site, 12)
    assert [m for m in mails if m.problem or m.gave_up] == [], [m.subject for m in mails]
