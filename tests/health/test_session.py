"""EngineSession without Docker: what each connection, loss and event tells the bus, in order.

The engine is scripted (``test_monitor.ScriptedEngine``); the session's stream callbacks
are called as the event stream calls them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stackmedic.bus import Bus
from stackmedic.engine.config import DockerConfig
from stackmedic.observe.boot import RestartKind
from stackmedic.observe.events import (
    ConnectionSettled,
    ContainerChanged,
    EngineConnected,
    EngineEvent,
    EngineLost,
    EngineReached,
    EngineSynced,
)
from stackmedic.observe.monitor import ContainerMonitor
from stackmedic.observe.session import EngineSession
from stackmedic.observe.state import ObservedState
from stackmedic.store.db import Database
from stackmedic.store.events import EventLog, EventQuery
from stackmedic.store.facts import Facts
from stackmedic.supervise.heartbeat import Heartbeats

from .test_monitor import ScriptedEngine, event, list_entry

TOLD = (EngineReached, ContainerChanged, EngineConnected, ConnectionSettled, EngineSynced,
        EngineLost, EngineEvent)


class BrokenSweep(ScriptedEngine):
    """An engine whose container list fails while ``broken`` is set."""

    broken = True

    async def list_project_containers(self) -> list[dict[str, Any]]:
        if self.broken:
            raise OSError("connection reset by peer")
        return await super().list_project_containers()


@dataclass
class Rig:
    """A session over a scripted engine, a real store and a bus whose every event is kept."""

    folder: Path
    engine: ScriptedEngine = field(default_factory=ScriptedEngine)
    told: list[object] = field(default_factory=list)
    seen_running: list[bool] = field(default_factory=list)  # observed, as each was told

    def __post_init__(self) -> None:
        self.db = Database(self.folder / "s.db")
        self.boot_id = self.folder / "boot_id"
        self.boot_id.write_text("boot-1\n")
        self.bus = Bus()
        for kind in TOLD:
            self.bus.subscribe(kind, self._keep)
        self.observed = ObservedState()
        self.heartbeats = Heartbeats()
        for loop in ("events", "sweep"):
            self.heartbeats.add(loop, 60)
        self.session = self.build()

    def build(self) -> EngineSession:
        """A session as a (re)started agent builds it, on the same store."""
        return EngineSession(
            self.engine, ContainerMonitor(self.engine, self.observed, self.bus), self.bus,
            facts=Facts(self.db), events=EventLog(self.db), boot_id_path=self.boot_id,
            docker=DockerConfig(), heartbeats=self.heartbeats, beat_every=10,
        )

    async def _keep(self, told: object) -> None:
        self.told.append(told)
        self.seen_running.append(self.observed.get("c1") is not None)

    def kinds(self) -> list[str]:
        return [type(t).__name__ for t in self.told]

    def logged(self, kind: str) -> list[dict[str, Any]]:
        return EventLog(self.db).query(EventQuery(kind=kind))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    made.engine.listing = [list_entry("c1", "running")]
    made.engine.states["c1"] = "running"
    try:
        yield made
    finally:
        made.db.close()


async def test_a_connect_publishes_engine_connected_after_the_resync(rig: Rig) -> None:
    await rig.session.on_connected()

    assert rig.kinds() == ["EngineReached", "ContainerChanged", "EngineConnected",
                           "ConnectionSettled"]
    # The daemon is told before the resync reads the containers, the connection after.
    assert rig.seen_running == [False, True, True, True]
    reached, connected = rig.told[0], rig.told[2]
    assert isinstance(reached, EngineReached) and isinstance(connected, EngineConnected)
    assert connected.synced and connected.first and connected.restart is RestartKind.FIRST_RUN
    assert (reached.restart, reached.first, reached.at) == (
        connected.restart, connected.first, connected.at)
    assert rig.session.synced
    assert [e["message"] for e in rig.logged("docker-connected")] == [
        "connected to Docker at unix:///nowhere"]


async def test_a_later_connection_and_a_host_restart_are_told_as_such(rig: Rig) -> None:
    await rig.session.on_connected()
    await rig.session.on_connected()  # the stream came back to the same daemon
    again = rig.told[-2]
    assert isinstance(again, EngineConnected)
    assert (again.restart, again.first, again.restarted) == (RestartKind.AGENT, False, False)

    rig.boot_id.write_text("boot-2\n")  # the host rebooted while the agent was down
    rig.session = rig.build()
    rig.told.clear()
    await rig.session.on_connected()
    reached = rig.told[0]
    assert isinstance(reached, EngineReached)
    assert reached.restart is RestartKind.HOST and reached.first and reached.restarted
    # The daemon's own start is not visible here: the connection is the best bound.
    assert reached.daemon_started_at == reached.at == reached.up_since


async def test_a_failing_subscriber_does_not_stop_the_connection(rig: Rig) -> None:
    async def broken(event: EngineConnected) -> None:
        raise RuntimeError("the store went away")

    rig.bus.subscribe(EngineConnected, broken)  # after the rig's own: it hears first
    await rig.session.on_connected()

    assert rig.kinds()[-1] == "ConnectionSettled"


async def test_a_failed_resync_is_told_and_the_next_sweep_syncs(tmp_path: Path) -> None:
    rig = Rig(tmp_path, engine=BrokenSweep())
    try:
        await rig.session.on_connected()
        connected = rig.told[-2]
        assert isinstance(connected, EngineConnected) and not connected.synced
        assert rig.kinds()[-1] == "ConnectionSettled"

        rig.session.stream.connected.set()  # as the stream does while it is open
        rig.engine.broken = False
        await rig.session.sweep()
        await rig.session.sweep()
        assert rig.kinds().count("EngineSynced") == 1
        assert rig.session.synced
        assert rig.heartbeats.statuses()[1].beats == 2
    finally:
        rig.db.close()


async def test_a_loss_is_told_once_and_not_when_the_agent_ends_the_stream(rig: Rig) -> None:
    await rig.session.on_connected()
    rig.told.clear()

    await rig.session.on_disconnected()
    assert rig.kinds() == ["EngineLost"]
    assert not rig.session.synced
    assert len(rig.logged("docker-disconnected")) == 1

    await rig.session.on_connected()
    rig.told.clear()
    rig.session.closing = True  # the agent is stopping: it ends the stream itself
    await rig.session.on_disconnected()
    assert rig.told == []
    assert len(rig.logged("docker-disconnected")) == 1


async def test_an_engine_event_is_told_before_the_observed_state_applies_it(rig: Rig) -> None:
    await rig.session.on_connected()
    rig.told.clear()
    rig.seen_running.clear()
    rig.engine.states["c2"] = "running"

    await rig.session.on_event(event("c2", "start"))

    assert rig.kinds() == ["EngineEvent", "ContainerChanged"]
    changed = rig.told[1]
    assert isinstance(changed, ContainerChanged) and changed.current is not None
    assert changed.current.id == "c2" and changed.event is not None
