"""Fleet families read from the real stores at scrape time, each series labelled with host."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from notify.conftest import make_event
from stackmedic.bus import Bus
from stackmedic.metrics import Metrics
from stackmedic.metrics.agent_state import AgentMetrics, ReconcileCounter
from stackmedic.metrics.deployments import DeploymentMetrics, open_problems
from stackmedic.notify import (
    Channel,
    ChannelSettings,
    ChannelUnreachable,
    Notifier,
    NotifyConfig,
    RenderedMessage,
)
from stackmedic.notify.outbox import Outbox
from stackmedic.notify.render import RenderContext, render
from stackmedic.notify.sender import ChannelWorker, RetryPolicy
from stackmedic.recovery.events import RestartReconcileStarted
from stackmedic.recovery.policy import Phase, RecoveryState, RecoveryStateStore
from stackmedic.recovery.runs import RecoveryRuns
from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.facts import Facts
from stackmedic.supervise.heartbeat import Heartbeats
from stackmedic.types import DesiredState

from .exposition import Exposition

FLEET_FAMILIES = {
    "stackmedic_deployment_desired_state": "gauge",
    "stackmedic_open_problems": "gauge",
    "stackmedic_recovery_runs": "counter",
    "stackmedic_recovery_gave_up": "gauge",
    "stackmedic_restart_reconciles": "counter",
    "stackmedic_notification_outbox_pending": "gauge",
    "stackmedic_notification_failures": "counter",
    "stackmedic_agent_heartbeat_timestamp_seconds": "gauge",
}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeSettings(ChannelSettings):
    type: Literal["fake"]


class Flaky(Channel):
    """Fails with the scripted errors, then delivers."""

    kind: ClassVar[str] = "fake"
    config_model: ClassVar[type[ChannelSettings]] = FakeSettings

    def __init__(self, name: str, failures: int) -> None:
        super().__init__(name, FakeSettings(type="fake"))
        self.failures = failures

    async def send(self, message: RenderedMessage) -> None:
        if self.failures:
            self.failures -= 1
            raise ChannelUnreachable("receiver down")


def fleet_metrics(
    db: Database, open_problems: dict[str, int], clock: Clock, heartbeats: Heartbeats
) -> tuple[Metrics, ReconcileCounter]:
    reconciles = ReconcileCounter(Facts(db))
    metrics = Metrics(
        [
            DeploymentMetrics(
                db, DesiredStateStore(db), deployments=lambda: ["shop", "blog"],
                open_problems=lambda: open_problems,
            ),
            AgentMetrics(db, reconciles, heartbeats, clock=clock),
        ],
        host="h2",
    )
    return metrics, reconciles


async def test_deployment_families_follow_the_stores(db: Database) -> None:
    clock = Clock()
    desired = DesiredStateStore(db)
    desired.set("shop", DesiredState.RUNNING, "first-seen")
    desired.set("blog", DesiredState.STOPPED, "api")
    runs = RecoveryRuns(db)
    for outcome in ("recovered", "recovered", "failed", "gave-up"):
        runs.finish(runs.begin("shop", "ill-health", 1), outcome, [])
    runs.begin("shop", "ill-health", 2)  # still running: not counted yet
    RecoveryStateStore(db).save(RecoveryState("shop", phase=Phase.GAVE_UP))
    metrics, _ = fleet_metrics(db, {"shop": 2}, clock, Heartbeats())
    exp = Exposition(metrics.render().decode())

    assert exp.value("stackmedic_deployment_desired_state", deployment="shop",
                     state="running") == 1
    assert exp.value("stackmedic_deployment_desired_state", deployment="shop",
                     state="stopped") == 0
    assert exp.value("stackmedic_deployment_desired_state", deployment="blog",
                     state="stopped") == 1
    assert exp.value("stackmedic_open_problems", deployment="shop") == 2
    assert exp.value("stackmedic_open_problems", deployment="blog") == 0
    assert exp.value("stackmedic_recovery_runs_total", deployment="shop",
                     outcome="recovered") == 2
    assert exp.value("stackmedic_recovery_runs_total", deployment="shop", outcome="failed") == 1
    assert not exp.samples("stackmedic_recovery_runs_total", outcome="running")
    assert exp.value("stackmedic_recovery_gave_up", deployment="shop") == 1
    assert exp.value("stackmedic_recovery_gave_up", deployment="blog") == 0
    for name, kind in FLEET_FAMILIES.items():
        assert exp.type_of(name) == kind, name
    every = [s for f in exp.families.values() for s in f.samples]
    assert every and all(s.labels.get("host") == "h2" for s in every)


async def test_restart_reconciles_are_counted_durably(db: Database, tmp_path: Path) -> None:
    bus = Bus()
    _, reconciles = fleet_metrics(db, {}, Clock(), Heartbeats())
    reconciles.subscribe(bus)
    await bus.publish(RestartReconcileStarted("host", 1.0))
    await bus.publish(RestartReconcileStarted("daemon", 2.0))
    await bus.publish(RestartReconcileStarted("host", 3.0))
    db.close()
    reopened = Database(tmp_path / "stackmedic.db")  # an agent restart reads the same counts
    try:
        metrics, _ = fleet_metrics(reopened, {}, Clock(), Heartbeats())
        exp = Exposition(metrics.render().decode())
        assert exp.value("stackmedic_restart_reconciles_total", kind="host", host="h2") == 2
        assert exp.value("stackmedic_restart_reconciles_total", kind="daemon") == 1
    finally:
        reopened.close()


async def test_outbox_depth_and_failures_survive_history_pruning(db: Database) -> None:
    clock = Clock()
    channel = Flaky("pager", failures=2)
    config = NotifyConfig.model_validate(
        {"channels": {"pager": {"type": "fake"}}, "group_window_seconds": 0, "history_days": 1,
         "repeat_interval_seconds": None}
    )
    notifier = Notifier(config, db, clock=clock, channels={"pager": channel})
    metrics, _ = fleet_metrics(db, {}, clock, Heartbeats())
    await notifier.submit(make_event())
    exp = Exposition(metrics.render().decode())
    assert exp.value("stackmedic_notification_outbox_pending") == 1

    outbox = Outbox(db)
    worker = ChannelWorker(
        channel, outbox, RetryPolicy(1, 4, 3600), clock,
        render=lambda nid: render(outbox.load(nid), RenderContext(host="h2")),  # type: ignore[arg-type]
        on_dead=lambda d, e: None, redact=lambda s: s,
    )
    for _ in range(3):
        delivery = outbox.claim_next("pager", clock.now)
        assert delivery is not None
        await worker.attempt(delivery)
        clock.now += 10
    exp = Exposition(metrics.render().decode())
    assert exp.value("stackmedic_notification_outbox_pending") == 0
    assert exp.value("stackmedic_notification_failures_total", channel="pager") == 2

    clock.now += 3 * 86400
    notifier.sweep()  # prunes the delivered notification
    assert notifier.list_notifications() == []
    exp = Exposition(metrics.render().decode())
    assert exp.value("stackmedic_notification_failures_total", channel="pager") == 2


def test_heartbeats_are_wall_clock_times_of_last_progress(db: Database) -> None:
    ticks = Clock(100.0)
    heartbeats = Heartbeats(clock=ticks)
    heartbeats.add("events", 60)
    heartbeats.add("sweep", 60)
    heartbeats.start()
    ticks.now = 130.0
    heartbeats.beat("events")
    ticks.now = 140.0
    wall = Clock(1_800_000_000.0)
    exp = Exposition(
        Metrics([AgentMetrics(db, ReconcileCounter(Facts(db)), heartbeats, clock=wall)],
                host="h2").render().decode()
    )
    beat = "stackmedic_agent_heartbeat_timestamp_seconds"
    assert exp.value(beat, loop="events", host="h2") == 1_800_000_000.0 - 10
    assert exp.value(beat, loop="sweep") == 1_800_000_000.0 - 40


def test_open_problems_count_the_episode_and_each_firing_spike_alert() -> None:
    firing = [{"deployment": "shop"}, {"deployment": "blog"}, {"deployment": None}]
    assert open_problems(["shop", "docs"], firing) == {"shop": 2, "docs": 1, "blog": 1}
