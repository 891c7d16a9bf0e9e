"""HealthEngine without Docker: transitions, deduplication, history, grace period."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from stackmedic.bus import Bus
from stackmedic.deployments.actions import Action
from stackmedic.deployments.catalog import Catalog
from stackmedic.engine.client import EngineStatus
from stackmedic.health import HealthEngine
from stackmedic.health.config import HealthConfig
from stackmedic.health.model import HealthTransition, Verdict
from stackmedic.observe.events import ContainerChanged
from stackmedic.observe.state import ObservedState
from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog, EventQuery
from stackmedic.store.facts import Facts
from stackmedic.types import SYSTEM_CLOCK, Clock, DesiredState
from support.clock import ManualClock

from .factories import NOW, connected, container, deployment


class Rig:
    """A health engine over in-memory parts the test controls."""

    engine: HealthEngine

    def __init__(self, tmp_path: Path, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.db = Database(tmp_path / "s.db")
        self.catalog = Catalog(tmp_path, None, Facts(self.db))
        self.catalog.deployments = {"shop": deployment("web", "db")}
        self.observed = ObservedState()
        self.desired = DesiredStateStore(self.db)
        self.desired.set("shop", DesiredState.RUNNING, "api")
        self.events = EventLog(self.db)
        self.bus = Bus()
        self.status = EngineStatus(reachable=True, since=NOW)
        self.seen: list[HealthTransition] = []

    @classmethod
    async def make(cls, tmp_path: Path, *, synced: bool = True, clock: Clock = SYSTEM_CLOCK,
                   **config: float) -> Rig:
        """A rig whose engine heard the resync after connecting (unless not ``synced``)."""
        rig = cls(tmp_path, clock)
        rig.engine = await rig.build(synced=synced, **config)
        return rig

    async def build(self, *, synced: bool = True, **config: float) -> HealthEngine:
        engine = HealthEngine(
            catalog=self.catalog,
            observed=self.observed,
            desired=self.desired,
            events=self.events,
            db=self.db,
            bus=self.bus,
            config=HealthConfig.model_validate(config),
            engine=self.status,
            clock=self.clock,
        )
        self.bus.subscribe(HealthTransition, self.record)
        if synced:
            await engine.on_engine_connected(connected())
        return engine

    async def record(self, transition: HealthTransition) -> None:
        self.seen.append(transition)

    async def put(self, *states: object) -> None:
        """Apply container states together, then tell the engine about each."""
        previous = [self.observed.upsert(state) for state in states]  # type: ignore[arg-type]
        for before, state in zip(previous, states, strict=True):
            await self.engine.on_container_change(
                ContainerChanged(before, state))  # type: ignore[arg-type]


async def test_one_transition_per_real_change_and_none_from_repeats(tmp_path: Path) -> None:
    rig = await Rig.make(tmp_path)
    web, db = container("web"), container("db")
    await rig.put(web, db)
    await rig.engine.refresh()
    await rig.put(web, db)  # a sweep seeing the same again
    dead = replace(db, status="exited", exit_code=3)
    await rig.put(dead)
    await rig.put(replace(dead, finished_at=5.0))  # a change the verdict does not show
    await rig.engine.refresh()
    assert [(t.previous, t.verdict) for t in rig.seen] == [
        (None, Verdict.HEALTHY),
        (Verdict.HEALTHY, Verdict.DEGRADED),
    ]
    assert rig.seen[-1].reason == "db exited with code 3"
    assert rig.seen[-1].changed_services == ("db",)
    history = rig.engine.history("shop")
    assert [h["verdict"] for h in history] == ["degraded", "healthy"]
    logged = rig.events.query(EventQuery(deployment="shop", kind="health-changed"))
    assert len(logged) == 2 and logged[0]["severity"] == "warning"
    assert logged[0]["message"] == "healthy -> degraded: db exited with code 3"
    summary = rig.engine.verdict_summary("shop")
    assert summary["verdict"] == "degraded" and summary["since"] == history[0]["ts"]
    assert summary["services"]["db"]["exit_code"] == 3


async def test_a_restarted_engine_does_not_repeat_the_last_transition(tmp_path: Path) -> None:
    rig = await Rig.make(tmp_path)
    await rig.put(container("web"), container("db"))
    assert len(rig.seen) == 1
    rig.engine = await rig.build()
    await rig.engine.refresh()
    assert len(rig.seen) == 1
    assert rig.engine.since("shop") == rig.seen[0].at


async def test_nothing_is_reported_before_the_first_resync(tmp_path: Path) -> None:
    rig = await Rig.make(tmp_path, synced=False)
    await rig.put(container("web"))
    await rig.engine.refresh()
    assert rig.seen == []
    assert rig.engine.verdict_summary("shop")["verdict"] == "unknown"
    rig.status.reachable, rig.status.error = False, "connection refused"
    await rig.engine.refresh()
    assert [t.verdict for t in rig.seen] == [Verdict.UNKNOWN]
    assert rig.seen[0].reason == "Docker unreachable: connection refused"


async def test_start_through_the_agent_is_starting_until_grace_ends(tmp_path: Path) -> None:
    rig = await Rig.make(tmp_path, start_grace_seconds=0.3)
    await rig.engine.on_action("shop", Action.START)
    await rig.put(container("web"))
    assert {t.verdict for t in rig.seen} == {Verdict.STARTING}
    assert rig.seen[-1].reason == "starting: db missing"
    ended = asyncio.Event()
    rig.bus.subscribe(HealthTransition, lambda t: _set(ended))
    await asyncio.wait_for(ended.wait(), 5)
    assert rig.seen[-1].verdict is Verdict.DEGRADED and rig.seen[-1].reason == "db missing"
    await rig.engine.close()


@pytest.mark.parametrize("step", [-3600.0, 3600.0], ids=["back", "forward"])
async def test_the_start_grace_lasts_its_length_whatever_the_wall_clock_does(
    tmp_path: Path, step: float
) -> None:
    clock = ManualClock()
    rig = await Rig.make(tmp_path, clock=clock, start_grace_seconds=30)
    await rig.engine.on_action("shop", Action.START)
    await rig.put(container("web"))
    clock.advance(10)
    clock.step(step)  # NTP sets the time while the deployment starts
    health = rig.engine.evaluate("shop")
    assert health is not None and health.verdict is Verdict.STARTING
    assert health.recheck_at == clock.wall() + 20  # shown in the wall time as it reads now
    clock.advance(20)
    await rig.engine.refresh()
    assert rig.seen[-1].verdict is Verdict.DEGRADED and rig.seen[-1].reason == "db missing"
    await rig.engine.close()


async def test_stop_through_the_agent_is_stopped_at_once(tmp_path: Path) -> None:
    rig = await Rig.make(tmp_path)
    await rig.put(container("web"), container("db"))
    rig.desired.set("shop", DesiredState.STOPPED, "api")
    await rig.engine.on_action("shop", Action.STOP)
    await rig.put(replace(container("web"), status="exited", exit_code=137))
    await rig.put(replace(container("db"), status="exited", exit_code=137))
    assert [t.verdict for t in rig.seen] == [Verdict.HEALTHY, Verdict.STOPPED]


async def test_a_removed_deployment_is_forgotten(tmp_path: Path) -> None:
    rig = await Rig.make(tmp_path)
    await rig.engine.refresh()
    rig.catalog.deployments = {}
    await rig.engine.refresh()
    assert rig.engine.verdict("shop") is None
    assert rig.engine.overview() == []


async def _set(event: asyncio.Event) -> None:
    event.set()


@pytest.mark.parametrize(("error", "verdict"), [
    (None, Verdict.DEPLOYING),  # someone's `compose up` between its create and its start
    ("port is already allocated", Verdict.DEGRADED),  # a start that failed
])
async def test_a_created_container_read_before_its_create_event_is_a_redeploy(
    tmp_path: Path, error: str | None, verdict: Verdict
) -> None:
    # Measured (the matrix, on a busy host): a sweep listed a person's new container
    # before its `create` event was handled, and "db created" was told as a problem.
    rig = await Rig.make(tmp_path)
    await rig.put(container("web"), container("db"))
    await rig.engine.refresh()
    rig.observed.remove(container("db").id)
    fresh = replace(container("db"), id="db-new", status="created", started_at=None,
                    error=error)
    await rig.put(fresh)  # no event: read by a sweep
    assert rig.seen[-1].verdict is verdict, rig.seen[-1]
