"""A deployment world on a fake clock, run through the real path from containers to the outbox.

Engine events go into ``Activity`` and the verdict function; each reported verdict change
goes into ``Episodes`` (alerts) and from there through the notifier's ``Intake`` (routing,
noise control, grouping) into a real outbox in SQLite. Beside it a model says, from the
containers alone, what a person expects to be told. Tests compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackmedic.alerts.episodes import Episodes, Outgoing, ReleaseNews, Submit
from stackmedic.deployments.events import ActionFinished, ActionOrigin, ActionStarted
from stackmedic.deployments.model import Deployment, DeploymentKind, ServiceSpec
from stackmedic.health.activity import Activity
from stackmedic.health.model import HealthTransition, Signature, Verdict
from stackmedic.health.verdict import HealthInputs, evaluate
from stackmedic.notify.config import NotifyConfig
from stackmedic.notify.intake import Intake
from stackmedic.notify.outbox import Outbox
from stackmedic.notify.problems import ProblemStore
from stackmedic.notify.silences import SilenceStore
from stackmedic.notify.types import NotificationKind
from stackmedic.observe.containers import ContainerState
from stackmedic.recovery.events import RecoveryEvent
from stackmedic.store.db import Database
from stackmedic.types import DesiredState

GRACE = 30.0
SETTLE = 10.0
WINDOW = 10.0
REPEAT = 3600.0
STEP = 1.0  # every action takes a moment
START = 1_700_000_000.0

RUNNING = DesiredState.RUNNING
STOPPED = DesiredState.STOPPED


@dataclass
class Box:
    """One deployment with one service ``app`` that has a healthcheck, and what is expected."""

    name: str
    desired: DesiredState = RUNNING
    container: str = ""
    status: str = "running"
    health: str = "healthy"
    exit_code: int | None = None
    generation: int = 1
    pending: bool = False  # the intent tracker's answer
    on_purpose: bool = False  # a person is stopping or restarting it now
    recovering: bool = False
    deploy_until: float | None = None
    starting_until: float | None = None
    # what people must have been told
    open: bool = False
    folded: bool = False
    held_resolution: bool = False
    problems: int = 0
    resolutions: int = 0

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass
class World:
    """The deployments, the parts under test and the fake clock."""

    folder: Path
    names: tuple[str, ...] = ("shop", "blog")
    now: float = START
    synced: bool = True
    reconciling: bool = False
    boxes: dict[str, Box] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.db = Database(self.folder / "stackmedic.db")
        config = NotifyConfig.model_validate({
            "group_window_seconds": WINDOW, "repeat_interval_seconds": REPEAT,
            "flap_threshold": None,
            "channels": {"ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}},
        })
        self.problems = ProblemStore(self.db)
        self.outbox = Outbox(self.db)
        self.intake = Intake(config, self.db, self.outbox, self.problems,
                             SilenceStore(self.db, lambda: self.now), ["ops"])
        self.activity = Activity(start_grace=GRACE)
        self.episodes = Episodes(recovery_note="stackmedic will try")
        self.reported: dict[str, tuple[Verdict, Signature]] = {}
        for name in self.names:
            self.boxes[name] = Box(name, container=f"{name}-1")
        self.recompute()

    def close(self) -> None:
        self.db.close()

    # -- plumbing -------------------------------------------------------------------

    def deployment(self, name: str) -> Deployment:
        return Deployment(name, name, DeploymentKind.FOLDER, None, [],
                          services={"app": ServiceSpec("app", has_healthcheck=True)})

    def state(self, box: Box) -> ContainerState:
        return ContainerState(
            id=box.container, name=f"{box.name}-app-1", project=box.name, service="app",
            status=box.status, health=box.health if box.running else "none",
            exit_code=box.exit_code, restart_policy="no", config_hash=str(box.generation),
        )

    def verdict(self, name: str) -> Any:
        box = self.boxes[name]
        pending = box.pending
        return evaluate(HealthInputs(
            deployment=self.deployment(name), containers=[self.state(box)],
            desired=box.desired, now=self.now, synced=self.synced,
            starting_until=box.starting_until,
            stopping=self.activity.stopping(name, self.now, pending),
            deploying_until=self.activity.deploying_until(name, self.now),
        ))

    def recompute(self) -> None:
        """What the health engine does after each change: report changed verdicts."""
        for name in self.names:
            health = self.verdict(name)
            if health.verdict.fine:
                self.activity.settled(name)
            if not self.synced:
                continue
            last = self.reported.get(name)
            if last is not None and last[1] == health.signature():
                continue
            self.reported[name] = (health.verdict, health.signature())
            if last is not None:
                self.log.append(f"{self.now - START:.0f} {name} {health.verdict}: "
                                f"{health.reason}")
                transition = HealthTransition(name, last[0], health, self.now)
                self.send(self.episodes.on_health(transition))
        self.expect()

    def send(self, outgoing: list[Outgoing]) -> None:
        for item in outgoing:
            if isinstance(item, Submit):
                self.intake.accept(item.event, self.now)
            elif isinstance(item, ReleaseNews):
                self.outbox.release(item.deployment, self.now + WINDOW)
            else:
                self.intake.accept_summary(item.summary, list(item.members), self.now)

    def restart_agent(self) -> None:
        """stackmedic restarts (the bridge's part): the open episodes come back from the
        outbox's firing problems, notices are held until the stream is back, and an episode
        whose deployment is fine by then ends (the health engine's verdicts are stored)."""
        self.episodes = Episodes(recovery_note="stackmedic will try", resume_settle=GRACE)
        for problem in self.problems.all():
            if problem.status == "firing" and problem.deployment is not None \
                    and problem.last_event.kind == NotificationKind.ILL_HEALTH:
                self.episodes.resume(problem.deployment, problem.started_at,
                                     problem.severity, problem.last_event)
        self.episodes.stream_lost()
        self.send(self.episodes.stream_back())
        for name in sorted(set(self.episodes.open) - set(self.episodes.settling)):
            health = self.verdict(name)
            if health.verdict.fine:
                self.send(self.episodes.on_health(HealthTransition(name, None, health,
                                                                   self.now)))

    def engine(self, name: str, action: str, signal: str | None = None) -> None:
        box = self.boxes[name]
        self.activity.container_event(name, box.container, action, signal, self.now, self.now)

    def act(self, name: str, action: str, origin: ActionOrigin, begin: bool) -> None:
        if begin:
            self.activity.action_started(ActionStarted(name, action, origin, self.now))
        else:
            self.activity.action_finished(ActionFinished(name, action, origin, True, self.now))

    def recovery(self, kind: str, name: str | None, **details: Any) -> None:
        self.send(self.episodes.on_recovery(
            RecoveryEvent(kind, name, kind, "info", self.now, details)))

    def pass_time(self, seconds: float) -> None:
        self.now += seconds
        for box in self.boxes.values():
            if box.starting_until is not None and box.starting_until <= self.now:
                box.starting_until = None
        self.recompute()
        self.send([])
        self.intake.sweep(self.now)

    # -- the model ------------------------------------------------------------------

    def broken(self, box: Box) -> bool:
        in_redeploy = box.deploy_until is not None and self.now < box.deploy_until
        return (box.desired is RUNNING and not box.running and not box.pending
                and not box.on_purpose and not in_redeploy)

    def fine(self, box: Box) -> bool:
        if box.desired is STOPPED:
            return not box.running
        return box.running and box.health == "healthy"

    def expect(self) -> None:
        """Update what people must have been told, from the containers alone."""
        if not self.synced:
            return
        holding = self.reconciling
        for box in self.boxes.values():
            if self.fine(box):
                box.deploy_until = None
            if self.broken(box) and not box.open:
                box.open, box.folded = True, holding
                if not holding:
                    box.problems += 1
            elif self.fine(box) and box.open:
                box.open = False
                if box.folded:
                    box.folded = False
                elif holding:
                    box.held_resolution = True
                else:
                    box.resolutions += 1

    def summary_told(self) -> None:
        for box in self.boxes.values():
            if box.held_resolution:
                box.resolutions += 1
                box.held_resolution = False
            if box.open and box.folded:
                box.problems += 1
                box.folded = False

    # -- what was told --------------------------------------------------------------

    def told(self, name: str) -> list[str]:
        """``problem`` / ``resolved`` per queued ill-health event of a deployment, in order."""
        rows = self.db.fetchall(
            "SELECT kind, replaces_severity, note FROM notification_events"
            " WHERE fingerprint = ? ORDER BY id", (f"ill-health:{name}",))
        told = []
        for row in rows:
            if row["kind"] == "recovered":
                told.append("resolved")
            elif row["replaces_severity"] is None and not (row["note"] or "").startswith(
                "still failing"
            ):
                told.append("problem")
        return told

    def firing(self, name: str) -> bool:
        state = self.problems.get(f"ill-health:{name}")
        return state is not None and state.status == "firing"
