"""IntentTracker without Docker: pending stops, the decisive moments, own actions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from health.factories import connected, container, deployment, lost
from stackmedic.bus import Bus
from stackmedic.deployments.actions import DeploymentActions
from stackmedic.deployments.catalog import Catalog
from stackmedic.deployments.events import ActionFinished, ActionOrigin, ActionStarted
from stackmedic.engine.client import EngineClient, measured_offset
from stackmedic.health.activity import Activity
from stackmedic.intent.events import IntentDecided, StopPendingChanged
from stackmedic.intent.link import EngineLink
from stackmedic.intent.tracker import IntentTracker
from stackmedic.observe.containers import LABEL_PROJECT, LABEL_SERVICE
from stackmedic.observe.state import ObservedState
from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog, EventQuery
from stackmedic.store.facts import Facts
from stackmedic.store.pending import PendingStopStore, StoredStop
from stackmedic.types import DesiredState
from support.wait import async_assert_holds


class Daemon:
    """A stand-in Engine socket that answers ``/_ping`` until it is told to refuse."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readline()
            writer.write(b"HTTP/1.0 200 OK\r\n\r\nOK")
            await writer.drain()
            writer.close()

        self.server = await asyncio.start_unix_server(answer, str(self.path))

    async def refuse(self) -> None:
        """What an orderly shutdown does first: stop accepting connections."""
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        self.path.unlink(missing_ok=True)


class Rig:
    """A tracker over a real store, catalog and observed state the test controls."""

    def __init__(self, tmp_path: Path, *services: str, host: str | None = None,
                 ahead: float = 0.0) -> None:
        self.db = Database(tmp_path / "s.db")
        self.catalog = Catalog(tmp_path, None, Facts(self.db))
        self.catalog.deployments = {"shop": deployment(*services)}
        self.observed = ObservedState()
        self.desired = DesiredStateStore(self.db)
        self.desired.set("shop", DesiredState.RUNNING, "api")
        self.events = EventLog(self.db)
        self.bus = Bus()
        self.host = host
        self.ahead = ahead  # how far the daemon's clock is ahead of the agent's
        self.decided: list[IntentDecided] = []
        self.pending_changes: list[bool] = []
        self.bus.subscribe(IntentDecided, self._decided)
        self.bus.subscribe(StopPendingChanged, self._changed)
        for service in services:
            self.observed.upsert(container(service))
        self.tracker = self.build()

    def build(self, settle: float = 60) -> IntentTracker:
        return IntentTracker(
            self.desired, self.events, self.catalog, self.observed,
            stop_settle_seconds=settle, start_settle_seconds=0.1,
            bus=self.bus, docker_host=self.host, link=EngineLink(True, 1, 0.0),
            to_engine=lambda local: local + self.ahead,
        )

    async def _decided(self, event: IntentDecided) -> None:
        self.decided.append(event)

    async def _changed(self, event: StopPendingChanged) -> None:
        self.pending_changes.append(event.pending)

    async def stop(self, service: str, at: float, *, code: int = 0) -> None:
        """A container of ``service`` is stopped (kill, die, stop) at ``at``."""
        await self.event("kill", service, at, signal="15")
        await self.tracker.probed()
        self.observed.upsert(replace(container(service), status="exited", exit_code=code,
                                     finished_at=at + 0.01))
        await self.event("die", service, at + 0.01, exitCode=str(code))
        await self.event("stop", service, at + 0.02)

    async def event(self, action: str, service: str, at: float, **attributes: str) -> None:
        await self.tracker.on_event(_event(action, service, at, **attributes))

    def state(self, service: str = "") -> DesiredState | None:
        record = self.desired.get("shop", service)
        return record.state if record else None

    def logged(self, kind: str) -> list[dict[str, Any]]:
        return self.events.query(EventQuery(kind=kind))


def _event(action: str, service: str, at: float, **attributes: str) -> dict[str, Any]:
    return {
        "Type": "container", "Action": action, "timeNano": int(at * 1e9),
        "Actor": {"ID": f"shop-{service}-1", "Attributes": {
            LABEL_PROJECT: "shop", LABEL_SERVICE: service, **attributes}},
    }


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    running = Daemon(tmp_path / "d.sock")
    await running.start()
    yield running
    if running.server is not None and running.server.is_serving():
        await running.refuse()


async def test_a_stop_before_the_shutdown_is_intent_and_the_shutdown_is_not(
    tmp_path: Path, daemon: Daemon
) -> None:
    rig = Rig(tmp_path, "web", "db", "cache", host=f"unix://{daemon.path}")
    now = time.time()
    await rig.stop("web", now)  # a person, while the daemon accepts connections
    assert rig.tracker.stop_pending("shop") and rig.pending_changes == [True]
    await daemon.refuse()
    for service in ("db", "cache"):
        await rig.stop(service, now + 0.1)  # the shutdown burst, 0.1 s later
    await rig.tracker.on_engine_lost(lost())
    assert rig.state("web") is DesiredState.STOPPED
    assert rig.state() is DesiredState.RUNNING and rig.state("db") is None
    assert [(d.service, d.intent, d.uncertain) for d in rig.decided] == [
        ("web", True, False), ("db", False, False), ("cache", False, False)]
    assert "accepted a new connection" in rig.decided[0].evidence
    ignored = rig.logged("intent-ignored")[0]
    assert [e["service"] for e in ignored["data"]["evidence"]] == ["db", "cache"]
    assert rig.pending_changes == [True, False]
    assert PendingStopStore(rig.db).all() == []


async def test_without_probes_the_burst_alone_decides(tmp_path: Path) -> None:
    rig = Rig(tmp_path, "web", "db", "cache", "queue")
    now = time.time()
    await rig.stop("web", now)
    for n, service in enumerate(("db", "cache", "queue")):
        # One burst: kills 5 ms apart, inside BURST_SPREAD_SECONDS (measured spread 0.019 s
        # for the whole burst); 10 ms apart sat on the limit, and float rounding decided.
        await rig.stop(service, now + 1.0 + n * 0.005)
    await rig.tracker.on_engine_lost(lost())
    assert [(d.service, d.intent, d.uncertain) for d in rig.decided] == [
        ("web", True, False), ("db", False, False), ("cache", False, False),
        ("queue", False, False)]
    assert rig.state("web") is DesiredState.STOPPED and rig.state() is DesiredState.RUNNING


async def test_a_close_call_is_recorded_as_uncertain(tmp_path: Path) -> None:
    rig = Rig(tmp_path, "web", "db")
    now = time.time()
    await rig.stop("web", now)
    await rig.stop("db", now + 0.3)
    await rig.tracker.on_engine_lost(lost())
    assert [(d.service, d.intent, d.uncertain) for d in rig.decided] == [
        ("web", True, True), ("db", False, True)]  # a burst of one, without probes
    changed = rig.logged("intent-changed")[0]
    assert changed["severity"] == "warning"
    assert "uncertain" in changed["message"] and "stackmedic start shop" in changed["message"]
    assert changed["data"]["evidence"]["burst"]["members"] == 1


async def test_agent_stopped_while_the_daemon_answers_keeps_the_stop(
    tmp_path: Path, daemon: Daemon
) -> None:
    rig = Rig(tmp_path, "web", host=f"unix://{daemon.path}")
    await rig.stop("web", time.time())
    await rig.tracker.close()  # stackmedic stopped first, the daemon still up
    assert rig.state() is DesiredState.STOPPED
    assert rig.decided[0].evidence.startswith("stackmedic was stopped while the daemon")


async def test_agent_stopped_with_a_shutting_down_daemon_applies_the_burst_rule(
    tmp_path: Path, daemon: Daemon
) -> None:
    rig = Rig(tmp_path, "web", "db", host=f"unix://{daemon.path}")
    now = time.time()
    await daemon.refuse()  # the agent runs in a container: stopped with everything else
    await rig.stop("db", now)
    await rig.tracker.close()
    assert rig.state() is DesiredState.RUNNING and rig.state("db") is None
    assert [(d.service, d.intent) for d in rig.decided] == [("db", False)]


async def test_a_pending_stop_survives_an_agent_kill(tmp_path: Path, daemon: Daemon) -> None:
    rig = Rig(tmp_path, "web", host=f"unix://{daemon.path}")
    await rig.tracker.on_engine_connected(connected())
    now = time.time()
    await rig.stop("web", now)
    await rig.stop("web", now)  # a replay of the same stop is stored once
    rig.tracker = rig.build()  # killed: nothing was closed
    assert rig.tracker.stop_pending("shop") and len(rig.tracker.pending) == 1
    await rig.tracker.on_engine_connected(connected())  # the same daemon process still runs
    assert rig.state() is DesiredState.STOPPED
    assert "is still up" in rig.decided[0].evidence


@pytest.mark.parametrize(("evidence", "intent"), [
    ({"answered_at": 1.5}, True), ({"refused_at": 1.01}, False), ({}, True)])
async def test_stops_left_pending_before_a_daemon_restart(
    tmp_path: Path, daemon: Daemon, evidence: dict[str, float], intent: bool
) -> None:
    rig = Rig(tmp_path, "web", host=f"unix://{daemon.path}")
    rig.observed.upsert(replace(container("web"), status="exited", finished_at=1.0))
    PendingStopStore(rig.db).add(StoredStop(
        "shop-web-1", 1.02, "shop", "web", kill_at=1.0, daemon="1:99.00", **evidence))
    rig.tracker = rig.build()
    await rig.tracker.on_engine_connected(connected())
    assert rig.state() is (DesiredState.STOPPED if intent else DesiredState.RUNNING)
    assert [(d.intent, d.uncertain) for d in rig.decided] == [(intent, evidence == {})]
    assert not rig.tracker.stop_pending("shop")


async def test_the_settle_passing_with_the_daemon_up_confirms(tmp_path: Path) -> None:
    rig = Rig(tmp_path, "web")
    rig.tracker = rig.build(settle=0.05)
    await rig.stop("web", time.time())
    ended = asyncio.Event()
    rig.bus.subscribe(IntentDecided, lambda e: _set(ended))
    await asyncio.wait_for(ended.wait(), 5)
    assert rig.state() is DesiredState.STOPPED and rig.pending_changes == [True, False]


async def test_own_actions_own_only_the_events_they_cause(tmp_path: Path) -> None:
    rig = Rig(tmp_path, "web", "db")
    window = rig.tracker.begin_action("shop", "start")
    await rig.stop("db", time.time())  # a person's stop during stackmedic's start
    assert rig.tracker.stop_pending("shop")
    await rig.tracker.end_action("shop", window)
    restart = rig.tracker.begin_action("shop", "restart", frozenset({"web"}))
    now = time.time()
    await rig.stop("web", now)  # the restart's own stop and start
    await rig.event("start", "web", now + 0.1)
    await rig.stop("web", now + 0.2)  # stopped again by someone else
    await rig.tracker.end_action("shop", restart)
    assert sorted(p.service for p in rig.tracker.pending) == ["db", "web"]
    assert rig.tracker.pending[-1].evidence is not None
    assert rig.tracker.pending[-1].evidence.stop_at == pytest.approx(now + 0.22)


async def test_a_person_start_during_a_stop_action_is_intent(tmp_path: Path) -> None:
    rig = Rig(tmp_path, "web")
    rig.desired.set("shop", DesiredState.STOPPED, "api")
    window = rig.tracker.begin_action("shop", "stop")
    await rig.event("start", "web", time.time() + 0.2)
    await rig.tracker.end_action("shop", window)
    assert rig.state() is DesiredState.RUNNING
    assert [(d.state, d.intent) for d in rig.decided] == [(DesiredState.RUNNING, True)]


async def _set(event: asyncio.Event) -> None:
    event.set()


async def test_acting_tells_the_bus_and_owns_only_what_the_action_causes(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, "web")
    actions = DeploymentActions(rig.catalog, None, rig.desired, rig.events, rig.tracker,
                                rig.observed, bus=rig.bus)
    seen: list[ActionStarted | ActionFinished] = []

    async def record(event: ActionStarted | ActionFinished) -> None:
        seen.append(event)

    rig.bus.subscribe(ActionStarted, record)
    rig.bus.subscribe(ActionFinished, record)
    async with actions.acting("shop"):  # recovery: may stop and start what it touches
        await rig.stop("web", time.time())
    assert not rig.tracker.stop_pending("shop")
    with pytest.raises(RuntimeError):
        async with actions.acting("shop", action="start", origin=ActionOrigin.PERSON):
            await rig.stop("web", time.time())  # a person's stop during stackmedic's start
            raise RuntimeError("compose failed")
    assert rig.tracker.stop_pending("shop")
    assert [(type(e).__name__, e.action, e.origin) for e in seen] == [
        ("ActionStarted", "recover", ActionOrigin.RECOVERY),
        ("ActionFinished", "recover", ActionOrigin.RECOVERY),
        ("ActionStarted", "start", ActionOrigin.PERSON),
        ("ActionFinished", "start", ActionOrigin.PERSON)]
    assert [e.ok for e in seen if isinstance(e, ActionFinished)] == [True, False]


async def test_a_shutdown_slower_than_the_settle_is_left_to_the_stream_end(
    tmp_path: Path, daemon: Daemon
) -> None:
    rig = Rig(tmp_path, "web", host=f"unix://{daemon.path}")
    rig.tracker = rig.build(settle=0.05)
    await daemon.refuse()
    await rig.stop("web", time.time())
    await async_assert_holds(lambda: rig.tracker.stop_pending("shop"), 0.5,
                             message="still pending after the settle")
    await rig.tracker.on_engine_lost(lost())
    assert rig.state() is DesiredState.RUNNING
    assert [(d.intent, d.uncertain) for d in rig.decided] == [(False, False)]


@pytest.mark.parametrize("ahead", [120.0, -120.0], ids=["ahead", "behind"])
async def test_own_actions_are_told_apart_on_a_daemon_clock_off_from_ours(
    tmp_path: Path, ahead: float
) -> None:
    # A tcp:// daemon whose clock is two minutes off: its stamps are compared with the
    # agent's actions on its own clock, by the intent tracker and the health engine alike.
    rig = Rig(tmp_path, "web", "db", ahead=ahead)
    actions = DeploymentActions(rig.catalog, None, rig.desired, rig.events, rig.tracker,
                                rig.observed, bus=rig.bus)
    activity = Activity(start_grace=30)

    async def started(event: ActionStarted) -> None:
        activity.action_started(event)

    async def finished(event: ActionFinished) -> None:
        activity.action_finished(event)

    rig.bus.subscribe(ActionStarted, started)
    rig.bus.subscribe(ActionFinished, finished)
    async with actions.acting("shop", action="stop", origin=ActionOrigin.PERSON):
        ours = time.time() + ahead  # stamped by the daemon
        await rig.stop("web", ours)  # stackmedic's own stop
    assert not rig.tracker.stop_pending("shop")
    assert activity.acting("shop", at=ours)

    person = ours + 5
    await rig.stop("db", person)  # a person's stop 5 s later
    assert [p.service for p in rig.tracker.pending] == ["db"]
    assert not activity.acting("shop", at=person)


def test_the_daemon_clock_offset_is_measured_only_beyond_the_round_trip() -> None:
    assert measured_offset(1000.004, 1000.0, 1000.01) == 0.0  # inside: a shared clock
    assert measured_offset(1120.005, 1000.0, 1000.01) == pytest.approx(120.0)
    assert measured_offset(879.0, 1000.0, 1000.01) == pytest.approx(-121.005)
    engine = EngineClient("unix:///nowhere")
    assert engine.to_engine(1000.0) == 1000.0  # not measured yet: taken as ours
    engine.clock_offset = 120.0
    assert engine.to_engine(1000.0) == 1120.0


async def _kill(rig: Rig, service: str, at: float, *, died_after: float = 0.01,
                code: int = 137) -> None:
    """``docker kill``: kill and die, no stop event."""
    await rig.event("kill", service, at, signal="9")
    rig.observed.upsert(replace(container(service), status="exited", exit_code=code,
                                finished_at=at + died_after))
    await rig.event("die", service, at + died_after, exitCode=str(code))


async def test_a_kill_without_a_stop_event_is_a_stop_confirmed_by_the_settle(
    tmp_path: Path
) -> None:
    rig = Rig(tmp_path, "web")
    rig.tracker = rig.build(settle=0.05)
    ended = asyncio.Event()
    rig.bus.subscribe(IntentDecided, lambda e: _set(ended))
    await _kill(rig, "web", time.time())
    assert rig.tracker.stop_pending("shop") and rig.pending_changes == [True]
    await asyncio.wait_for(ended.wait(), 5)
    assert rig.state() is DesiredState.STOPPED and rig.pending_changes == [True, False]
    assert [d.intent for d in rig.decided] == [True]


async def test_a_stop_event_after_the_kill_takes_the_place_of_the_kill(tmp_path: Path) -> None:
    rig = Rig(tmp_path, "web")
    now = time.time()
    await rig.stop("web", now)
    # Event times travel as nanoseconds: equal to the microsecond, not to the last bit.
    assert [p.evidence.stop_at for p in rig.tracker.pending if p.evidence] == [
        pytest.approx(now + 0.02, abs=1e-6)]
    assert rig.pending_changes == [True]
    # The store holds the same one alone: the kill's stop was replaced in the same write,
    # so an agent killed at any moment finds one stop (two would read as a burst).
    assert [s.stop_at for s in PendingStopStore(rig.db).all()] == [
        pytest.approx(now + 0.02, abs=1e-6)]


def test_a_stop_that_takes_another_ones_place_replaces_it_in_one_write(tmp_path: Path) -> None:
    store = PendingStopStore(Database(tmp_path / "s.db"))
    died = StoredStop("c1", 10.0, "shop", "web", die_at=10.0, seen_at=1.0)
    stopped = replace(died, stop_at=10.5)
    assert store.add(died) is True
    assert store.add(stopped, replacing=10.0) is True
    assert [s.stop_at for s in store.all()] == [10.5]
    assert store.add(stopped, replacing=10.0) is False  # a replay
    assert [s.stop_at for s in store.all()] == [10.5]


async def test_a_signal_the_service_outlives_is_no_stop(tmp_path: Path) -> None:
    rig = Rig(tmp_path, "web")
    now = time.time()
    await rig.event("kill", "web", now, signal="1")  # docker kill -s HUP: it keeps running
    assert not rig.tracker.stop_pending("shop")
    rig.observed.upsert(replace(container("web"), status="exited", exit_code=3,
                                finished_at=now + 40))
    await rig.event("die", "web", now + 40, exitCode="3")  # a crash much later
    assert not rig.tracker.stop_pending("shop") and rig.pending_changes == []


async def test_a_start_through_stackmedic_supersedes_an_earlier_stop_not_yet_judged(
    tmp_path: Path,
) -> None:
    # Found by the alert-episode property test: left pending, the stop held a crash right
    # after the start as "stopping" until it was judged.
    rig = Rig(tmp_path, "web", "db")
    await rig.stop("db", time.time() - 1)  # a person's `docker stop`, a moment ago
    assert rig.tracker.stop_pending("shop")
    window = rig.tracker.begin_action("shop", "start")  # then `stackmedic start shop`
    await rig.tracker.end_action("shop", window)
    assert not rig.tracker.stop_pending("shop")
    assert rig.tracker.pending == []


@pytest.mark.parametrize("policy,code,person", [
    ("no", "137", True),            # nothing restarts it: the start is a person's
    ("on-failure", "0", True),      # on-failure leaves an exit 0 alone
    ("on-failure", "3", False),     # Docker's own restart
    ("always", "137", False),
    ("unless-stopped", "0", False),
])
async def test_a_start_after_a_crash_is_a_persons_unless_the_policy_restarts_it(
    tmp_path: Path, policy: str, code: str, person: bool,
) -> None:
    # Found by the intent property test: a crash, a stop through stackmedic (nothing left
    # to stop), then `docker compose up`: the start was taken for a restart policy's.
    rig = Rig(tmp_path, "web")
    rig.desired.set("shop", DesiredState.STOPPED, "api")
    now = time.time()
    rig.observed.upsert(replace(container("web"), status="exited", exit_code=int(code),
                                restart_policy=policy, finished_at=now))
    await rig.event("die", "web", now, exitCode=code)
    await rig.event("start", "web", now + 1)
    assert rig.state() is (DesiredState.RUNNING if person else DesiredState.STOPPED)
