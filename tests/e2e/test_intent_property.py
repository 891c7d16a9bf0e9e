"""Property: whatever users, crashes and restarts do, at human or at machine pace,
stackmedic never starts a deployment whose last intent was stop.

Machine-pace races: a stop then the daemon's SIGTERM 0.1-3 s later; a stop then the agent
killed inside the settle; a stop then the agent stopped (the systemd order); a person's stop
or start during stackmedic's own action; the daemon restarted while a stop is pending.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from support.agent import RECOVERY_ON, AgentProcess, agent_config, merge
from support.compose import CommandFailed, crash_container
from support.deployments import Deployment, DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.lifecycle import assert_agent_alive, desired_state, events_connected
from support.wait import assert_holds, wait_until

pytestmark = pytest.mark.docker

STEPS = (
    "api-stop", "api-start", "cli-stop", "cli-start", "compose-stop", "compose-up",
    "compose-recreate", "compose-restart", "crash", "agent-restart", "daemon-restart",
)
STOPS = {"api-stop", "cli-stop", "compose-stop"}
# `compose restart` starts stopped containers too: a person's start either way.
STARTS = {"api-start", "cli-start", "compose-up", "compose-recreate", "compose-restart"}


@dataclass
class World:
    """The system under test and what the user last meant."""

    daemon: PrivateDockerd
    agent: AgentProcess
    site: Deployment
    factory: DeploymentFactory
    intent: str = "running"
    log: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, base: Path, daemon: PrivateDockerd, image: str) -> World:
        factory = DeploymentFactory(root=base / "deployments", image=image,
                                    docker_host=daemon.host)
        factory.root.mkdir()
        site = factory.make(f"p{secrets.token_hex(2)}", {"app": service("sleep 3600")})
        site.up()
        config = merge(agent_config(base / "data", factory.root, docker_host=daemon.host),
                       merge(RECOVERY_ON, {"intent": {"start_settle_seconds": 0.3}}))
        world = cls(daemon, AgentProcess(config, base / "agent"), site, factory)
        world.agent.start()
        wait_until(lambda: world.desired() == "running", 30, message="first seen")
        return world

    def close(self) -> None:
        self.agent.close()
        self.factory.cleanup()

    # -- what can be seen ---------------------------------------------------------------

    def running(self) -> bool:
        return self.site.states().get("app") == "running"

    def agent_connected(self) -> bool:
        return events_connected(self.agent)

    def desired(self) -> str | None:
        return desired_state(self.agent, self.site.name)

    def stop_stored(self) -> bool:
        """The agent has stored the stop it saw (it survives a kill from here on)."""
        path = Path(self.agent.config["data_dir"]) / "stackmedic.db"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT COUNT(*) FROM pending_stops WHERE deployment = ?",
                              (self.site.name,)).fetchone()
        return bool(rows[0]) or self.desired() == "stopped"

    # -- human pace ---------------------------------------------------------------------

    def step(self, step: str) -> None:
        self.log.append(step)
        if step in ("api-stop", "api-start"):
            action = step.split("-")[1]
            response = self.agent.api("POST", f"/api/deployments/{self.site.name}/{action}")
            assert response.status_code == 200, response.text
        elif step in ("cli-stop", "cli-start"):
            result = self.agent.cli(step.split("-")[1], self.site.name)
            assert result.returncode == 0, result.stderr
        elif step == "compose-stop":
            if not self.person_stops():
                return
        elif step == "compose-up":
            self.site.up()
        elif step == "compose-recreate":
            self.site.up("--force-recreate")
        elif step == "compose-restart":
            self.site.compose("restart")
        elif step == "crash":
            if self.running():
                # it may have exited meanwhile
                with contextlib.suppress(CommandFailed, AssertionError):
                    crash_container(self.site.container_ids()[0],
                                    docker_host=self.daemon.host)
        elif step == "agent-restart":
            self.agent.kill()
            self.agent.start()
        elif step == "daemon-restart":
            self.restart_daemon_done()
        if step in STOPS:
            self.intent = "stopped"
        elif step in STARTS:
            self.intent = "running"
        self.settled()

    def person_stops(self) -> bool:
        """`docker compose stop`; False when nothing ran (the engine reports nothing then)."""
        if not self.running():
            self.log[-1] += " (nothing running)"
            return False
        since = time.time()
        self.site.stop()
        if not self.stopped_since(since):
            # It had died just before (a crash a moment earlier): the engine stopped
            # nothing and reported nothing, which is no one's intent.
            self.log[-1] += " (it had just died: nothing stopped)"
            return False
        self.intent = "stopped"
        return True

    def stopped_since(self, since: float) -> bool:
        """Whether the engine reported a stop of the deployment's container since ``since``."""
        found = self.daemon.docker(
            "events", "--since", f"{since - 1:.3f}", "--until", f"{time.time():.3f}",
            "--filter", "type=container", "--filter", "event=stop",
            "--filter", f"label=com.docker.compose.project={self.site.name}",
            "--format", "{{.TimeNano}}").stdout.split()
        return any(int(nano) / 1e9 >= since for nano in found)

    def restart_daemon_done(self) -> None:
        self.daemon.stop()  # waits until it has exited
        self.daemon.start()
        wait_until(self.agent_connected, 60, message="agent back on the daemon")

    def settled(self) -> None:
        """The agent has taken in the last intent; nothing runs against a stop."""
        wait_until(lambda: self.desired() == self.intent, 60,
                   message=f"intent {self.intent} recorded after {self.log}")
        if self.intent == "stopped":
            assert not self.running(), f"started against a stop: {self.log}"

    # -- machine pace -------------------------------------------------------------------

    def stop_then_daemon_sigterm(self, gap: float) -> None:
        self.log.append(f"compose-stop, daemon SIGTERM {gap:.2f}s later")
        self.person_stops()
        pid = self.daemon.pid
        assert pid is not None
        timer = threading.Timer(gap, os.kill, (pid, signal.SIGTERM))
        timer.start()
        timer.join()
        self.restart_daemon_done()
        self.settled()

    def stop_then_agent(self, how: str, daemon_restart: bool = False) -> None:
        self.log.append(f"compose-stop, agent {how}" + (", daemon restart" if daemon_restart
                                                        else ""))
        if self.person_stops():
            wait_until(self.stop_stored, 30, message="stop stored")
        if how == "SIGKILL":
            self.agent.kill()
        else:
            assert self.agent.terminate() == 0
        if daemon_restart:
            self.restart_daemon_done_without_agent()
        self.agent.start()
        self.settled()

    def restart_daemon_done_without_agent(self) -> None:
        self.daemon.stop()
        self.daemon.start()

    def person_during_action(self, person: str, delay: float) -> None:
        """A person's stop during stackmedic's restart, or start during its stop."""
        action, act = ("restart", self.site.stop) if person == "stop" else ("stop", self.site.up)
        self.log.append(f"api-{action} with compose-{person} {delay:.2f}s into it")
        if person == "start":
            self.intent = "stopped"  # the API stop is a person's word too
        done: list[float] = []

        def call_api() -> None:
            response = self.agent.api("POST", f"/api/deployments/{self.site.name}/{action}")
            assert response.status_code == 200, response.text
            done.append(time.time())

        caller = threading.Thread(target=call_api)
        caller.start()
        _after(delay)
        began = time.time()
        act()
        caller.join(120)
        assert done, "the API action finished"
        if began > done[0]:  # strictly after stackmedic's action: the person's word is last
            self.intent = "stopped" if person == "stop" else "running"
        else:  # overlapping: whichever the engine shows last, the agent must agree with it
            wait_until(self._consistent, 60, message=f"intent follows the engine: {self.log}")
            self.intent = self.desired() or self.intent
        self.settled()

    def _consistent(self) -> bool:
        running, desired = self.running(), self.desired()
        return (running and desired == "running") or (not running and desired == "stopped")

    def final(self) -> None:
        if self.intent == "stopped":
            # Long enough for a restart reconcile or a recovery to act if it wrongly would.
            assert_holds(lambda: not self.running(), 6, message=f"stays stopped after {self.log}")
            self.agent_alive()
            assert self.desired() == "stopped"

    def agent_alive(self) -> None:
        assert_agent_alive(self.agent, self.log)


def _after(seconds: float) -> None:
    """Let ``seconds`` pass (the timing of a race, not a wait for a state)."""
    timer = threading.Timer(seconds, lambda: None)
    timer.start()
    timer.join()


class IntentMachine(RuleBasedStateMachine):
    """Drives one deployment, its agent and its daemon through random sequences."""

    daemon: ClassVar[PrivateDockerd]
    image: ClassVar[str]
    folders: ClassVar[pytest.TempPathFactory]

    def __init__(self) -> None:
        super().__init__()
        self.world = World.make(self.folders.mktemp("prop"), self.daemon, self.image)

    @rule(step=st.sampled_from(STEPS))
    def human(self, step: str) -> None:
        self.world.step(step)

    @rule(gap=st.floats(0.1, 3.0))
    def stop_then_daemon_sigterm(self, gap: float) -> None:
        self.world.stop_then_daemon_sigterm(gap)

    @rule(how=st.sampled_from(["SIGKILL", "SIGTERM"]))
    def stop_then_agent(self, how: str) -> None:
        self.world.stop_then_agent(how)

    @rule()
    def stop_then_daemon_restart_while_pending(self) -> None:
        self.world.stop_then_agent("SIGKILL", daemon_restart=True)

    @rule(person=st.sampled_from(["stop", "start"]), delay=st.floats(0.0, 0.5))
    def person_during_action(self, person: str, delay: float) -> None:
        self.world.person_during_action(person, delay)

    def teardown(self) -> None:
        try:
            self.world.final()
        finally:
            self.world.close()


def _machine(tmp_path_factory: Any, daemon: PrivateDockerd, image: str) -> type[IntentMachine]:
    class Machine(IntentMachine):
        pass

    Machine.daemon = daemon
    Machine.image = image
    Machine.folders = tmp_path_factory
    return Machine


def test_never_starts_what_the_user_stopped(
    tmp_path_factory: Any, private_dockerd: PrivateDockerd, busybox_image: str
) -> None:
    run_state_machine_as_test(
        _machine(tmp_path_factory, private_dockerd, busybox_image),
        settings=settings(
            # The same sequences on every run, so CI is repeatable; explore more locally
            # with SMD_PROPERTY_EXAMPLES set (and derandomize off).
            max_examples=int(os.environ.get("SMD_PROPERTY_EXAMPLES", "3")),
            stateful_step_count=4, deadline=None, database=None,
            derandomize=not os.environ.get("SMD_PROPERTY_EXAMPLES"),
            # Each example drives real daemons for a minute; shrinking would take hours.
            phases=[Phase.generate],
            suppress_health_check=[HealthCheck.function_scoped_fixture,
                                   HealthCheck.too_slow],
        ),
    )


def _in_turn(*steps: Callable[[], None]) -> None:
    for step in steps:
        step()


def _steps(world: World, *steps: str) -> None:
    for step in steps:
        world.step(step)


# Each race, and each counterexample found so far, as an explicit sequence.
REGRESSIONS: dict[str, Callable[[World], None]] = {
    "stop-then-daemon-sigterm-0.1s": lambda w: w.stop_then_daemon_sigterm(0.1),
    "stop-then-agent-sigkill": lambda w: w.stop_then_agent("SIGKILL"),
    "stop-then-agent-sigterm": lambda w: w.stop_then_agent("SIGTERM"),
    "stop-during-own-restart": lambda w: w.person_during_action("stop", 0.0),
    "start-during-own-stop": lambda w: w.person_during_action("start", 0.0),
    "daemon-restart-while-pending": lambda w: w.stop_then_agent("SIGKILL", True),
    "daemon-agent-restarts-then-crash": lambda w: _steps(
        w, "compose-stop", "daemon-restart", "agent-restart", "compose-up", "crash",
        "daemon-restart"),
    "recreate-after-a-stop-then-crash": lambda w: _steps(
        w, "compose-stop", "compose-recreate", "crash", "compose-recreate", "compose-stop"),
    "restart-of-a-stopped-one-then-daemon-restart": lambda w: _steps(
        w, "compose-stop", "compose-restart", "daemon-restart", "compose-restart", "crash"),
    # Random run (40 sequences): `compose stop` right after a crash found it dead already
    # (the engine stops and reports nothing): no stop, and recovery brings it back.
    "crash-then-stop-then-daemon-sigterm-2.27s": lambda w: _in_turn(
        lambda: _steps(w, "crash"), lambda: w.stop_then_daemon_sigterm(2.27)),
    # Random run (40 sequences): a start after a crash was taken for a restart policy's,
    # though the service has none; desired stayed stopped while it ran.
    "crash-then-api-stop-with-compose-start-0.23s": lambda w: _in_turn(
        lambda: _steps(w, "compose-up", "crash"),
        lambda: w.person_during_action("start", 0.23)),
    "stop-of-nothing-is-no-intent": lambda w: _steps(
        w, "compose-up", "daemon-restart", "api-start", "compose-stop", "compose-stop"),
    # Random run 4 (80 sequences): the agent did not answer at the final check once; the
    # replay passed. Kept as an explicit sequence.
    "stop-during-restart-then-two-pending-daemon-restarts": lambda w: _in_turn(
        lambda: w.person_during_action("stop", 0.5),
        lambda: w.stop_then_agent("SIGKILL", True),
        lambda: w.stop_then_agent("SIGKILL", True)),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_race_regression(
    name: str, tmp_path: Path, private_dockerd: PrivateDockerd, busybox_image: str
) -> None:
    world = World.make(tmp_path, private_dockerd, busybox_image)
    try:
        REGRESSIONS[name](world)
        world.final()
    finally:
        world.close()
