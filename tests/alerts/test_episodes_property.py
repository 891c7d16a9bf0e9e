"""Property: every ill episode is told once and its end once; what is done on purpose never is.

Crashes, recoveries through ``starting``, stops and restarts through stackmedic, stops seen
on the engine (confirmed as intent, or dropped when the daemon goes away), manual starts,
redeploys, daemon restarts with their reconcile and summary, restarts of stackmedic itself
(its open problems resumed from the outbox), and the clock passing group,
grace and repeat windows, in any order, on two deployments.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from alerts.world import GRACE, REPEAT, RUNNING, SETTLE, STEP, STOPPED, WINDOW, World
from stackmedic.deployments.events import ActionOrigin

NAMES = st.sampled_from(("shop", "blog"))
PERSON = ActionOrigin.PERSON
RECOVERY = ActionOrigin.RECOVERY


class Deployments(RuleBasedStateMachine):
    """Drives the world; checks what was told against what people must be told."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="smd-episodes-"))
        self.world = World(self.folder)

    def teardown(self) -> None:
        self.world.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def tick(self) -> None:
        self.world.pass_time(STEP)

    # -- failures -------------------------------------------------------------------

    @rule(name=NAMES, code=st.sampled_from((1, 137)))
    def crash(self, name: str, code: int) -> None:
        box = self.world.boxes[name]
        if not box.running or not self.world.synced:
            return
        self.tick()
        box.status, box.exit_code = "exited", code
        self.world.engine(name, "die")
        self.world.recompute()

    @rule(name=NAMES)
    def recover(self, name: str) -> None:
        """stackmedic's recovery starts the service again; its probe passes later."""
        w, box = self.world, self.world.boxes[name]
        if box.running or box.desired is STOPPED or box.pending or not w.synced:
            return
        if not w.reconciling and not box.open:
            return  # recovery acts on ill deployments only
        self.tick()
        w.recovery("recovery-started", name)
        w.act(name, "start", RECOVERY, True)
        box.status, box.health, box.exit_code = "running", "starting", None
        w.engine(name, "start")
        w.recompute()
        w.act(name, "start", RECOVERY, False)
        box.recovering = True
        w.recompute()

    @rule(name=NAMES)
    def probe_passes(self, name: str) -> None:
        w, box = self.world, self.world.boxes[name]
        if not box.running or box.health != "starting" or not w.synced:
            return
        self.tick()
        box.health = "healthy"
        w.recompute()
        if box.recovering:
            box.recovering = False
            w.recovery("recovery-succeeded", name)

    # -- people ---------------------------------------------------------------------

    @rule(name=NAMES)
    def start_through_stackmedic(self, name: str) -> None:
        w, box = self.world, self.world.boxes[name]
        if box.running or not w.synced:
            return
        self.tick()
        box.desired = RUNNING
        w.act(name, "start", PERSON, True)
        box.status, box.health, box.exit_code = "running", "starting", None
        w.engine(name, "start")
        w.recompute()
        w.act(name, "start", PERSON, False)
        if box.pending:  # the start is the person's last word: the stop is not judged
            box.pending = False
            w.activity.pending_changed(name, False)
        box.starting_until = w.now + GRACE
        w.recompute()

    @rule(name=NAMES, action=st.sampled_from(("stop", "down", "restart")))
    def stop_through_stackmedic(self, name: str, action: str) -> None:
        w, box = self.world, self.world.boxes[name]
        if not w.synced or (action == "restart" and box.desired is STOPPED):
            return
        self.tick()
        if action != "restart":
            box.desired = STOPPED
        w.act(name, action, PERSON, True)
        box.on_purpose = True
        w.recompute()
        if box.running:
            w.engine(name, "kill", "15")
            box.status, box.exit_code = "exited", 137
            w.engine(name, "die")
            w.recompute()
            w.engine(name, "stop")
            w.recompute()
        if action == "restart":
            box.status, box.health, box.exit_code = "running", "starting", None
            w.engine(name, "start")
            w.recompute()
        w.act(name, action, PERSON, False)
        box.on_purpose = False
        if action == "restart":
            box.starting_until = w.now + GRACE
        w.recompute()

    @rule(name=NAMES)
    def stop_on_the_engine(self, name: str) -> None:
        """``docker compose stop``: kill, die, stop; the intent tracker holds it pending."""
        w, box = self.world, self.world.boxes[name]
        if not box.running or box.desired is STOPPED or not w.synced:
            return
        self.tick()
        box.on_purpose = True  # what a person means from the first signal on
        w.engine(name, "kill", "15")
        w.recompute()
        box.status, box.exit_code = "exited", 143
        w.engine(name, "die")
        w.recompute()
        w.engine(name, "stop")
        w.recompute()
        box.pending, box.on_purpose = True, False
        w.activity.pending_changed(name, True)
        w.recompute()

    @rule(name=NAMES)
    def stop_confirmed_as_intent(self, name: str) -> None:
        w, box = self.world, self.world.boxes[name]
        if not box.pending or not w.synced:
            return
        w.pass_time(SETTLE)
        box.desired, box.pending = STOPPED, False
        w.activity.pending_changed(name, False)
        w.recompute()

    @rule(name=NAMES)
    def start_on_the_engine(self, name: str) -> None:
        """``docker compose start``: taken as the intent to run."""
        w, box = self.world, self.world.boxes[name]
        if box.running or not w.synced or box.deploy_until is not None:
            return
        self.tick()
        box.status, box.health, box.exit_code = "running", "starting", None
        w.engine(name, "start")
        box.desired = RUNNING
        if box.pending:
            box.pending = False
            w.activity.pending_changed(name, False)
        w.recompute()

    @rule(name=NAMES)
    def redeploy(self, name: str) -> None:
        """``compose up -d`` with a changed config: create the new container, stop the old."""
        w, box = self.world, self.world.boxes[name]
        if not box.running or box.desired is STOPPED or not w.synced:
            return
        self.tick()
        old = box.container
        box.generation += 1
        box.container = f"{name}-{box.generation}"
        w.engine(name, "create")
        box.deploy_until = w.now + GRACE
        box.container = old
        w.engine(name, "kill", "15")
        w.engine(name, "die")
        w.engine(name, "stop")
        w.engine(name, "destroy")
        box.container = f"{name}-{box.generation}"
        box.status, box.health, box.exit_code = "created", "none", None
        box.pending = True
        w.activity.pending_changed(name, True)
        w.recompute()

    @rule(name=NAMES, works=st.booleans())
    def redeployed_container_starts(self, name: str, works: bool) -> None:
        w, box = self.world, self.world.boxes[name]
        if box.status != "created" or not w.synced:
            return
        self.tick()
        w.engine(name, "start")
        in_grace = box.deploy_until is not None and w.now < box.deploy_until
        box.deploy_until = w.now + GRACE if in_grace else None
        box.status, box.health = "running", "starting"
        box.pending = False
        w.activity.pending_changed(name, False)
        w.recompute()
        if not works:
            box.status, box.exit_code = "exited", 1
            w.engine(name, "die")
            w.recompute()

    # -- the daemon -----------------------------------------------------------------

    @precondition(lambda self: self.world.synced and not self.world.reconciling)
    @rule()
    def daemon_restarts(self) -> None:
        """Every container is stopped, the stream ends, the daemon comes back: reconcile."""
        w = self.world
        self.tick()
        for name, box in w.boxes.items():
            if box.running:
                box.on_purpose = True
                w.engine(name, "kill", "15")
                box.status, box.exit_code = "exited", 143
                w.engine(name, "die")
                w.engine(name, "stop")
                box.pending, box.on_purpose = box.desired is RUNNING, False
                w.activity.pending_changed(name, box.pending)
            elif box.status == "created":
                box.status = "exited"
            w.recompute()
        w.episodes.stream_lost()
        w.synced = False
        for name, box in w.boxes.items():  # the stream ended: these stops are not intent
            box.pending = False
            w.activity.pending_changed(name, False)
            box.deploy_until = None
        w.pass_time(60)
        w.reconciling = True
        w.episodes.reconcile_started()
        w.episodes.stream_down = False  # what the bridge does when a reconcile holds
        w.synced = True
        w.recompute()

    @precondition(lambda self: self.world.synced and not self.world.reconciling)
    @rule()
    def stream_reconnects(self) -> None:
        """The event stream ends and comes back to the same daemon: nothing is lost."""
        w = self.world
        w.episodes.stream_lost()
        w.synced = False
        w.pass_time(STEP)
        w.synced = True
        w.recompute()
        w.send(w.episodes.stream_back())

    @precondition(lambda self: self.world.synced and not self.world.reconciling)
    @rule()
    def agent_restarts(self) -> None:
        """stackmedic itself restarts (an upgrade): what it told stays told once."""
        self.tick()
        self.world.restart_agent()

    @precondition(lambda self: self.world.reconciling)
    @rule()
    def reconcile_ends(self) -> None:
        w = self.world
        self.tick()
        w.reconciling = False
        w.recovery("restart-summary", None, restart="daemon")
        w.summary_told()
        w.recompute()

    @rule(seconds=st.sampled_from((STEP, WINDOW + 1, GRACE + 1, REPEAT + 1)))
    def time_passes(self, seconds: float) -> None:
        self.world.pass_time(seconds)

    # -- invariants -----------------------------------------------------------------

    @invariant()
    def every_episode_is_told_once_and_its_end_once(self) -> None:
        for name, box in self.world.boxes.items():
            told = self.world.told(name)
            assert told.count("problem") == box.problems, (name, told, self.world.log)
            assert told.count("resolved") == box.resolutions, (name, told, self.world.log)
            assert told == ["problem", "resolved"] * (len(told) // 2) + (
                ["problem"] if len(told) % 2 else []
            ), (name, told)

    @invariant()
    def no_open_problem_while_fine(self) -> None:
        w = self.world
        if w.reconciling or not w.synced:
            return
        for name, box in w.boxes.items():
            if w.fine(box):
                assert not w.firing(name), (name, w.log)
            if w.broken(box):
                assert w.firing(name), (name, w.log)


Deployments.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, derandomize=True, database=None,
)
TestEpisodes = Deployments.TestCase


def run(*steps: tuple[str, dict[str, object]]) -> None:
    """Replay one sequence of rules, checking the invariants after each."""
    machine = Deployments()
    try:
        for rule_name, arguments in steps:
            getattr(machine, rule_name)(**arguments)
            machine.every_episode_is_told_once_and_its_end_once()
            machine.no_open_problem_while_fine()
    finally:
        machine.teardown()


def test_a_crash_after_a_recovery_through_starting_is_a_new_episode() -> None:
    run(("crash", {"name": "shop", "code": 137}), ("recover", {"name": "shop"}),
        ("probe_passes", {"name": "shop"}), ("crash", {"name": "shop", "code": 1}),
        ("recover", {"name": "shop"}), ("probe_passes", {"name": "shop"}))


def test_a_stop_on_the_engine_is_quiet_from_its_first_signal() -> None:
    run(("stop_on_the_engine", {"name": "shop"}), ("stop_confirmed_as_intent", {"name": "shop"}))


def test_a_restart_through_stackmedic_is_quiet() -> None:
    run(("stop_through_stackmedic", {"name": "shop", "action": "restart"}),
        ("time_passes", {"seconds": GRACE + 1}), ("probe_passes", {"name": "shop"}))


def test_a_redeploy_whose_container_starts_after_the_grace_and_dies_is_an_episode() -> None:
    run(("redeploy", {"name": "shop"}), ("time_passes", {"seconds": GRACE + 1}),
        ("redeployed_container_starts", {"name": "shop", "works": False}))


def test_a_daemon_restart_folds_a_recovery_and_a_stop_into_the_summary() -> None:
    run(("daemon_restarts", {}), ("recover", {"name": "shop"}),
        ("stop_through_stackmedic", {"name": "shop", "action": "stop"}), ("reconcile_ends", {}))


def test_a_crash_after_a_stop_then_a_start_through_stackmedic_is_told_at_once() -> None:
    # Found exploring with more examples: the stop's marks outlived the start, and the
    # crash showed as "stopping" (the stop on the engine stayed pending; or the stop
    # through stackmedic's last mark held) until they ran out.
    run(("stop_on_the_engine", {"name": "shop"}), ("start_through_stackmedic", {"name": "shop"}),
        ("crash", {"name": "shop", "code": 1}))
    run(("stop_through_stackmedic", {"name": "shop", "action": "stop"}),
        ("start_through_stackmedic", {"name": "shop"}), ("crash", {"name": "shop", "code": 1}))


def test_an_agent_restart_keeps_a_crash_one_problem_and_its_end_one_notice() -> None:
    run(("crash", {"name": "shop", "code": 137}), ("agent_restarts", {}),
        ("recover", {"name": "shop"}), ("probe_passes", {"name": "shop"}),
        ("agent_restarts", {}), ("crash", {"name": "shop", "code": 1}))
