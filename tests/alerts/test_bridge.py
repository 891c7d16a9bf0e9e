"""The bridge on the bus: a reboot is one notification, held notices, episodes across restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from health.factories import reached
from stackmedic.alerts.bridge import NotificationBridge
from stackmedic.bus import Bus
from stackmedic.health.model import (
    DeploymentHealth,
    HealthTransition,
    ServiceHealth,
    ServiceStatus,
    Verdict,
)
from stackmedic.notify import Notifier, NotifyConfig
from stackmedic.notify.outbox import Outbox
from stackmedic.observe.boot import RestartKind
from stackmedic.observe.events import ConnectionSettled
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.events import RecoveryEvent, RestartReconcileStarted
from stackmedic.store.db import Database

NOW = 1_700_000_000.0
CONFIG = {
    "group_window_seconds": 0, "host": "testhost",
    "channels": {"ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}},
}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "stackmedic.db")
    try:
        yield database
    finally:
        database.close()


class Rig:
    """A bridge on a bus, feeding a notifier whose outbox is read back (nothing is sent)."""

    def __init__(self, db: Database, notify: dict[str, Any] | None = None,
                 clock: Callable[[], float] | None = None, **bridge: Any) -> None:
        self.db = db
        self.bus = Bus()
        self.notifier = Notifier(NotifyConfig.model_validate({**CONFIG, **(notify or {})}), db,
                                 **({"clock": clock} if clock else {}))
        self.bridge = NotificationBridge(
            self.notifier, self.bus, RecoveryConfig.model_validate({"enabled": True}), **bridge
        )
        self.bridge.start()
        self.verdicts: dict[str, Verdict] = {}
        self.at = NOW

    async def verdict(self, name: str, verdict: Verdict, reason: str = "web exited", *,
                      failing_check: bool = False) -> None:
        self.at += 1
        health = DeploymentHealth(name, verdict, reason, checked_at=self.at,
                                  services=unhealthy_web() if failing_check else ())
        await self.bus.publish(HealthTransition(name, self.verdicts.get(name), health, self.at))
        self.verdicts[name] = verdict

    async def recovery(self, kind: str, name: str | None, **details: Any) -> None:
        self.at += 1
        await self.bus.publish(RecoveryEvent(kind, name, f"{kind} {name}", "info", self.at,
                                             details))

    def notifications(self) -> list[list[tuple[str, str | None]]]:
        """Each queued notification as its (kind, deployment) events, sorted."""
        outbox = Outbox(self.db)
        rows = self.db.fetchall("SELECT id FROM notifications ORDER BY id")
        found: list[list[tuple[str, str | None]]] = []
        for row in rows:
            stored = outbox.load(row["id"])
            assert stored is not None
            found.append(sorted(((str(i.event.kind), i.event.deployment) for i in stored.events),
                                key=str))
        return found

    def firing(self) -> list[str]:
        return sorted(str(p["deployment"]) for p in self.notifier.outbox_state()["firing_problems"])


@pytest.fixture
async def rig(db: Database) -> AsyncIterator[Rig]:
    made = Rig(db, release_after=0.01)
    try:
        yield made
    finally:
        await made.bridge.close()


async def connected(rig: Rig) -> None:
    """The first connection found no restart: what was held is released."""
    await rig.bridge.docker_back("unix:///run/docker.sock")
    rig.bridge.connection_settled()
    for _ in range(100):
        if not rig.bridge.episodes.holding:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("notices still held")


async def test_a_reboot_is_one_notification_naming_what_is_still_down(rig: Rig) -> None:
    for name in ("shop", "blog", "wiki"):
        await rig.verdict(name, Verdict.HEALTHY, "web running")
    await rig.bus.publish(RestartReconcileStarted("host", NOW))
    await rig.bridge.docker_back("unix:///run/docker.sock")
    for name in ("shop", "blog", "wiki"):
        await rig.verdict(name, Verdict.DOWN)
    for name in ("shop", "blog"):
        await rig.recovery("recovery-started", name)
        await rig.verdict(name, Verdict.STARTING, "starting: web")
        await rig.verdict(name, Verdict.HEALTHY, "web running")
        await rig.recovery("recovery-succeeded", name)
    await rig.recovery("recovery-gave-up", "wiki")
    assert rig.notifications() == []
    await rig.recovery("restart-summary", None, restart="host",
                       brought_back=[{"deployment": "shop", "how": "start web"},
                                     {"deployment": "blog", "how": "start web"}],
                       still_down=[{"deployment": "wiki", "why": "web exited"}])
    assert rig.notifications() == [[("ill-health", "wiki"), ("restart-summary", None)]]
    assert rig.firing() == ["wiki"]
    await rig.verdict("wiki", Verdict.HEALTHY, "web running")  # later, by a person
    assert rig.notifications()[1:] == [[("recovered", "wiki")]]
    assert rig.firing() == []


async def test_after_a_reboot_summary_a_new_problem_is_told_at_once(rig: Rig) -> None:
    # As the agent starts after a host reboot: the session finds the restart, the bridge
    # hears Docker is back, the reconcile begins, then the connection settles.
    await rig.bridge.on_engine_reached(reached(restart=RestartKind.HOST, first=True))
    await rig.bus.publish(RestartReconcileStarted("host", NOW))
    await rig.bridge.on_connection_settled(ConnectionSettled(NOW))
    await rig.verdict("shop", Verdict.HEALTHY, "web running")
    await rig.recovery("restart-summary", None, restart="host", came_back_by_itself=["shop"])
    assert not rig.bridge.episodes.holding
    await rig.verdict("shop", Verdict.DOWN)  # later, a crash of its own
    assert rig.notifications() == [[("restart-summary", None)], [("ill-health", "shop")]]


async def test_a_problem_told_before_the_reboot_ends_inside_the_summary(rig: Rig) -> None:
    await connected(rig)
    await rig.verdict("shop", Verdict.HEALTHY, "web running")
    await rig.verdict("shop", Verdict.DOWN)
    rig.bridge.docker_lost("unix:///run/docker.sock")
    await rig.bus.publish(RestartReconcileStarted("daemon", NOW))
    await rig.bridge.docker_back("unix:///run/docker.sock")
    await rig.verdict("shop", Verdict.HEALTHY, "web running")
    await rig.recovery("restart-summary", None, restart="daemon", came_back_by_itself=["shop"])
    assert rig.notifications() == [
        [("ill-health", "shop")], [("recovered", "shop"), ("restart-summary", None)],
    ]
    assert rig.firing() == []


async def test_notices_held_at_start_are_told_once_no_restart_is_found(rig: Rig) -> None:
    await rig.verdict("shop", Verdict.HEALTHY, "web running")
    await rig.verdict("shop", Verdict.DOWN)
    assert rig.notifications() == []
    await connected(rig)
    assert rig.notifications() == [[("ill-health", "shop")]]


async def test_what_happened_while_held_is_told_in_order_when_no_restart_follows(
    rig: Rig,
) -> None:
    await rig.verdict("shop", Verdict.HEALTHY, "web running")
    await rig.verdict("shop", Verdict.DOWN)
    await rig.recovery("recovery-started", "shop")
    await rig.verdict("shop", Verdict.HEALTHY, "web running")
    await rig.recovery("recovery-succeeded", "shop")
    assert rig.notifications() == []
    await connected(rig)
    assert rig.notifications() == [
        [("ill-health", "shop")], [("recovery-started", "shop")], [("recovered", "shop")],
        [("recovery-succeeded", "shop")],
    ]
    assert rig.firing() == []


async def test_an_episode_still_open_after_the_hold_is_told_as_it_is_now(rig: Rig) -> None:
    await rig.verdict("shop", Verdict.HEALTHY, "web running")
    await rig.verdict("shop", Verdict.DEGRADED, "c exited")
    await rig.verdict("shop", Verdict.DOWN, "a exited; b exited; c exited")
    await connected(rig)
    assert rig.notifications() == [[("ill-health", "shop")]]
    assert rig.notifier.open_problems()[0].last_event.title == (
        "shop is down: a exited; b exited; c exited")


async def test_unknown_stopping_and_deploying_never_open_nor_end_an_episode(rig: Rig) -> None:
    await connected(rig)
    await rig.verdict("shop", Verdict.HEALTHY, "web running")
    for verdict in (Verdict.STOPPING, Verdict.DEPLOYING, Verdict.UNKNOWN, Verdict.STARTING):
        await rig.verdict("shop", verdict)
    await rig.verdict("shop", Verdict.DOWN)
    await rig.verdict("shop", Verdict.UNKNOWN)
    await rig.verdict("shop", Verdict.STARTING)
    await rig.verdict("shop", Verdict.DOWN)
    await rig.verdict("shop", Verdict.STOPPED, "stopped as desired")
    await rig.verdict("shop", Verdict.DOWN)
    assert rig.notifications() == [
        [("ill-health", "shop")], [("recovered", "shop")], [("ill-health", "shop")],
    ]


async def test_an_episode_open_when_the_agent_stopped_ends_after_it_restarts(db: Database) -> None:
    first = Rig(db, release_after=0.01)
    await connected(first)
    await first.verdict("shop", Verdict.HEALTHY, "web running")
    await first.verdict("shop", Verdict.DOWN)
    await first.bridge.close()
    second = Rig(db, release_after=0.01)
    second.verdicts["shop"] = Verdict.DOWN
    await connected(second)
    await second.verdict("shop", Verdict.HEALTHY, "web running")
    assert second.notifications() == [[("ill-health", "shop")], [("recovered", "shop")]]
    assert second.firing() == []
    await second.bridge.close()


def unhealthy_web() -> tuple[ServiceHealth, ...]:
    """A deployment whose one problem is web's failing healthcheck."""
    return (ServiceHealth("web", ServiceStatus.UNHEALTHY, containers=1, running=1),)


async def flip(rig: Rig, verdict: Verdict, settle_for: float, flap: str | None = None) -> None:
    rig.at += 1
    health = DeploymentHealth("shop", verdict, "web unhealthy", checked_at=rig.at,
                              services=unhealthy_web() if verdict.ill else ())
    await rig.bus.publish(HealthTransition("shop", rig.verdicts.get("shop"), health, rig.at,
                                           settle_for=settle_for, flap=flap))
    rig.verdicts["shop"] = verdict


async def test_a_flapping_healthcheck_is_one_problem_and_one_resolution_naming_the_flap(
    rig: Rig,
) -> None:
    await connected(rig)
    await flip(rig, Verdict.HEALTHY, 0)
    for _ in range(3):
        await flip(rig, Verdict.DEGRADED, 0)
        await flip(rig, Verdict.HEALTHY, 0.2)  # healthy again, but not for long
    assert rig.notifications() == [[("ill-health", "shop")]]
    await flip(rig, Verdict.DEGRADED, 0)
    await flip(rig, Verdict.HEALTHY, 0.2, flap="flapping: healthy/unhealthy 8 times in 42 s")
    await asyncio.sleep(0.1)
    assert rig.notifications() == [[("ill-health", "shop")]]
    for _ in range(50):
        if len(rig.notifications()) == 2:
            break
        await asyncio.sleep(0.02)
    assert rig.notifications() == [[("ill-health", "shop")], [("recovered", "shop")]]
    stored = Outbox(rig.db).load(2)
    assert stored is not None
    [resolved] = stored.events
    assert "flapping: healthy/unhealthy 8 times in 42 s" in resolved.event.title
    assert rig.firing() == []


async def test_an_episode_told_before_a_restart_ends_once_connected_if_fine_now(
    db: Database,
) -> None:
    first = Rig(db, release_after=0.01)
    await connected(first)
    await flip(first, Verdict.DEGRADED, 0)
    await flip(first, Verdict.HEALTHY, 60)  # the agent stops while the resolution waits
    await first.bridge.close()
    assert first.notifications() == [[("ill-health", "shop")]]

    fine = DeploymentHealth("shop", Verdict.HEALTHY, "web running", checked_at=NOW)
    again = Rig(db, release_after=0.01, verdict_of=lambda name: fine)
    try:
        await connected(again)
        for _ in range(50):
            if len(again.notifications()) == 2:
                break
            await asyncio.sleep(0.02)
        assert again.notifications() == [[("ill-health", "shop")], [("recovered", "shop")]]
        assert again.firing() == []
    finally:
        await again.bridge.close()


async def test_a_flap_across_an_agent_restart_stays_one_problem(db: Database) -> None:
    # Measured (the lifecycle property test): a flapping check, the agent restarted while it
    # happened to pass; the new agent resolved at once and told the next spell anew.
    first = Rig(db, release_after=0.01)
    await connected(first)
    await flip(first, Verdict.DEGRADED, 0)
    await first.bridge.close()

    fine = DeploymentHealth("shop", Verdict.HEALTHY, "web running", checked_at=NOW)
    again = Rig(db, release_after=0.01, verdict_of=lambda name: fine, resume_settle=0.3)
    try:
        await connected(again)
        await asyncio.sleep(0.1)
        await flip(again, Verdict.DEGRADED, 0)  # ill again before the resumed one held fine
        await asyncio.sleep(0.5)
        assert again.notifications() == [[("ill-health", "shop")]]
        assert again.firing() == ["shop"]
        await flip(again, Verdict.HEALTHY, 0.05)
        for _ in range(50):
            if len(again.notifications()) == 2:
                break
            await asyncio.sleep(0.02)
        assert again.notifications() == [[("ill-health", "shop")], [("recovered", "shop")]]
    finally:
        await again.bridge.close()


@pytest.mark.parametrize("connect_first", [True, False], ids=["connected", "still-holding"])
async def test_a_fine_first_verdict_after_an_agent_restart_waits_for_the_flap_time(
    db: Database, connect_first: bool
) -> None:
    # Measured (CI, the lifecycle property test): the agent stopped while a flapping check
    # failed; the new agent's first verdict, healthy, came as a transition (no flap known to
    # it, so no settle time) and ended the problem at once; the next spell was a new one.
    first = Rig(db, release_after=0.01)
    await connected(first)
    await first.verdict("shop", Verdict.DEGRADED, "web unhealthy", failing_check=True)
    await first.bridge.close()

    again = Rig(db, release_after=0.01, resume_settle=0.3)
    again.verdicts["shop"] = Verdict.DEGRADED  # the verdict stored before the restart
    try:
        if connect_first:
            await connected(again)
        await again.verdict("shop", Verdict.HEALTHY, "app running")
        if not connect_first:
            await connected(again)
        await asyncio.sleep(0.1)
        await again.verdict("shop", Verdict.DEGRADED, "web unhealthy",  # the next spell
                            failing_check=True)
        await asyncio.sleep(0.4)
        assert again.notifications() == [[("ill-health", "shop")]]
        assert again.firing() == ["shop"]
    finally:
        await again.bridge.close()


async def test_a_resumed_episode_fine_before_a_reconcile_ends_in_its_summary(db: Database) -> None:
    first = Rig(db, release_after=0.01)
    await connected(first)
    await first.verdict("shop", Verdict.DEGRADED, "web unhealthy", failing_check=True)
    await first.bridge.close()

    again = Rig(db, release_after=0.01, resume_settle=30)
    again.verdicts["shop"] = Verdict.DEGRADED
    try:
        await again.verdict("shop", Verdict.HEALTHY, "web running")  # settling, stream down
        await again.bus.publish(RestartReconcileStarted("host", NOW))
        await again.bridge.docker_back("unix:///run/docker.sock")
        await again.recovery("restart-summary", None, restart="host", brought_back=[],
                             still_down=[])
        assert again.notifications() == [
            [("ill-health", "shop")], [("recovered", "shop"), ("restart-summary", None)]]
        assert again.firing() == []
    finally:
        await again.bridge.close()


async def test_a_resumed_crash_ends_at_its_first_fine_verdict(db: Database) -> None:
    # Only a healthcheck's problem may be a flap: a crash told before the agent restarted
    # ends with the recovery that brought it back, in one notice (CI, the matrix).
    first = Rig(db, release_after=0.01)
    await connected(first)
    await first.verdict("shop", Verdict.DOWN)
    await first.bridge.close()

    again = Rig(db, release_after=0.01, resume_settle=30)
    again.verdicts["shop"] = Verdict.DOWN
    try:
        await connected(again)
        await again.verdict("shop", Verdict.HEALTHY, "web running")
        assert again.notifications() == [[("ill-health", "shop")], [("recovered", "shop")]]
        assert again.firing() == []
    finally:
        await again.bridge.close()


async def test_a_run_that_fails_releases_the_news_that_waited_for_its_result(
        db: Database) -> None:
    # The run failed and the next comes after a backoff: "recovery started" waits no more.
    now = [NOW]
    rig = Rig(db, notify={"group_window_seconds": 10}, clock=lambda: now[0],
              release_after=0.01)
    try:
        await connected(rig)
        await rig.verdict("shop", Verdict.HEALTHY, "web running")
        await rig.verdict("shop", Verdict.DOWN)
        now[0] += 15
        await rig.recovery("recovery-started", "shop")
        now[0] += 20
        assert rig.notifier.list_notifications()[0]["state"] == "grouping"
        await rig.recovery("recovery-failed", "shop")
        now[0] += 11
        assert rig.notifier.list_notifications()[0]["state"] == "pending"
        assert rig.notifications() == [[("ill-health", "shop")], [("recovery-started", "shop")]]
    finally:
        await rig.bridge.close()
