"""A person's Compose recreate: the old containers' stops are a replacement, not a stop.

``docker compose up -d --force-recreate`` (or ``up -d`` after a change) creates each
service's new container, stops and removes the old one, and starts the new ones only once
every old container of the project has stopped. A service that ignores SIGTERM holds the
others' new containers for its whole stop timeout, which may outlast the stop settle.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from health.factories import container
from intent.test_tracker import Rig, _event
from stackmedic.bus import Bus
from stackmedic.intent.events import StopPendingChanged
from stackmedic.observe.events import EngineEvent, EngineEventApplied
from stackmedic.types import DesiredState
from support.wait import async_assert_holds, async_wait_until

SETTLE = 0.1


def _of(container_id: str, action: str, service: str, at: float,
        **attributes: str) -> dict[str, Any]:
    event = _event(action, service, at, **attributes)
    event["Actor"]["ID"] = container_id
    return event


class Recreate:
    """Compose recreating ``web`` (quick to stop) and ``db`` (takes its stop timeout)."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.at = time.time()

    async def feed(self, container_id: str, action: str, service: str,
                   **attributes: str) -> None:
        self.at = max(self.at + 0.01, time.time())  # stamped as they happen
        await self.rig.tracker.on_event(_of(container_id, action, service, self.at,
                                            **attributes))

    async def begin(self) -> None:
        """New containers created, db signalled (it ignores it), web stopped and removed."""
        for service in ("web", "db"):
            self.rig.observed.upsert(container(service, "created", id=f"new-{service}",
                                               number=2))
            await self.feed(f"new-{service}", "create", service)
        await self.feed("shop-db-1", "kill", "db", signal="15")
        await self.removed("web", signal="15", code=0)

    async def db_stopped(self) -> None:
        """db's stop timeout ends: SIGKILL, and the old db is removed."""
        await self.removed("db", signal="9", code=137)

    async def removed(self, service: str, *, signal: str, code: int) -> None:
        """The old container of ``service`` gets ``signal``, ends, and is removed."""
        old = f"shop-{service}-1"
        await self.feed(old, "kill", service, signal=signal)
        self.rig.observed.upsert(replace(container(service), status="exited",
                                         exit_code=code, finished_at=self.at))
        await self.feed(old, "die", service, exitCode=str(code))
        await self.feed(old, "stop", service)
        self.rig.observed.remove(old)
        await self.feed(old, "destroy", service)

    async def start_new(self) -> None:
        for service in ("web", "db"):
            self.rig.observed.upsert(container(service, id=f"new-{service}", number=2,
                                               started_at=self.at))
            await self.feed(f"new-{service}", "start", service)


async def test_a_replacement_held_by_a_slow_stop_is_no_stop(tmp_path: Path) -> None:
    rig = Rig(tmp_path, "web", "db")
    rig.tracker = rig.build(settle=SETTLE)
    compose = Recreate(rig)
    await compose.begin()
    # Many settles pass while db takes its stop timeout: web's stop is not judged.
    await async_assert_holds(lambda: rig.tracker.stop_pending("shop"), 8 * SETTLE,
                             message="web's stop pending")
    await compose.db_stopped()
    # Compose starts the new containers a moment after the old db is removed (found in CI:
    # judged in that moment, from the containers still there, web's stop was a person's).
    await async_assert_holds(lambda: not rig.decided, 0.9 * SETTLE, message="still held")
    await compose.start_new()
    assert not rig.tracker.stop_pending("shop")
    await async_assert_holds(lambda: not rig.decided, 3 * SETTLE, message="nothing judged")
    assert rig.state() is DesiredState.RUNNING and rig.state("web") is None
    assert rig.logged("intent-changed") == []


async def test_a_replacement_that_never_starts_is_still_no_stop(tmp_path: Path) -> None:
    """The new containers stay created (their start failed: a bad entrypoint, a port taken;
    the engine sends no event for it): once nothing in the project stops and a settle
    passed, the old ones' stops are judged a replacement, not a person's stop, so the
    deployment stays wanted running and its verdict tells of the outage."""
    rig = Rig(tmp_path, "web", "db")
    rig.tracker = rig.build(settle=SETTLE)
    compose = Recreate(rig)
    await compose.begin()
    await async_assert_holds(lambda: not rig.decided, 4 * SETTLE, message="held")
    await compose.db_stopped()
    await async_wait_until(lambda: len(rig.decided) == 2, 5, message="both stops judged")
    assert [d.intent for d in rig.decided] == [False, False]
    assert "replaced" in rig.decided[0].evidence
    assert rig.state() is DesiredState.RUNNING and rig.state("web") is None
    assert not rig.tracker.stop_pending("shop")
    assert len(rig.logged("intent-ignored")) >= 1


async def test_a_stop_of_a_container_still_there_beside_a_created_one_is_a_stop(
    tmp_path: Path,
) -> None:
    """Only a container Compose removed was replaced: a person's ``docker stop`` of one
    while another container of its service sits created is a stop."""
    rig = Rig(tmp_path, "web")
    rig.tracker = rig.build(settle=SETTLE)
    rig.observed.upsert(container("web", "created", id="new-web", number=2))
    await rig.stop("web", time.time())
    await async_wait_until(lambda: rig.decided, 5, message="judged")
    assert [d.intent for d in rig.decided] == [True]
    assert rig.state() is DesiredState.STOPPED


async def test_a_second_recreate_right_after_the_first_is_no_stop_either(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, "web", "db")
    rig.tracker = rig.build(settle=SETTLE)
    first = Recreate(rig)
    await first.begin()
    await first.db_stopped()
    await first.start_new()
    # The new containers are the old ones of the second recreate.
    second = Recreate(rig)
    second.at = first.at
    rig.observed.remove("new-web")
    rig.observed.remove("new-db")
    for service in ("web", "db"):
        rig.observed.upsert(container(service, started_at=second.at))
    await second.begin()
    await async_assert_holds(lambda: rig.tracker.stop_pending("shop"), 4 * SETTLE,
                             message="held")
    await second.db_stopped()
    await second.start_new()
    await async_assert_holds(lambda: not rig.decided, 3 * SETTLE, message="nothing judged")
    assert rig.state() is DesiredState.RUNNING and rig.state("web") is None


async def test_the_start_ending_a_pending_stop_is_told_once_the_state_shows_it(
    tmp_path: Path,
) -> None:
    """The engine session tells intent of an event before the observed state applies it
    and again after: a stop superseded by a start is told over only after, so that health
    reads the started container running, not still ``created``."""
    rig = Rig(tmp_path, "web")
    bus = Bus()
    bus.subscribe(EngineEvent, rig.tracker.on_engine_event)
    bus.subscribe(EngineEventApplied, rig.tracker.on_engine_event_applied)
    states: list[str] = []

    async def heard(event: StopPendingChanged) -> None:
        if not event.pending:
            found = rig.observed.get("new-web")
            states.append(found.status if found else "missing")

    rig.bus.subscribe(StopPendingChanged, heard)
    now = time.time()
    await rig.stop("web", now)
    rig.observed.upsert(container("web", "created", id="new-web", number=2))
    start = _of("new-web", "start", "web", now + 1)
    await bus.publish(EngineEvent(start))
    assert rig.tracker.stop_pending("shop")
    rig.observed.upsert(container("web", id="new-web", number=2, started_at=now + 1))
    await bus.publish(EngineEventApplied(start))
    assert states == ["running"]
    assert not rig.tracker.stop_pending("shop")


async def test_an_event_between_the_halves_drops_the_start(tmp_path: Path) -> None:
    """A start is judged only by the second half of its own event."""
    rig = Rig(tmp_path, "web")
    now = time.time()
    await rig.stop("web", now)
    await rig.tracker.before_applied(_of("new-web", "start", "web", now + 1))
    await rig.tracker.after_applied(_of("other", "start", "web", now + 1))
    assert rig.tracker.stop_pending("shop")


async def test_a_replacement_waiting_for_a_dependency_to_be_healthy_is_no_stop(
    tmp_path: Path,
) -> None:
    """``depends_on: condition: service_healthy``: Compose starts web's new container once
    db's new one passes its healthcheck, which may take many settles."""
    rig = Rig(tmp_path, "web", "db")
    rig.tracker = rig.build(settle=SETTLE)
    compose = Recreate(rig)
    await compose.begin()
    await compose.db_stopped()
    rig.observed.upsert(container("db", id="new-db", number=2, started_at=compose.at,
                                  health="starting"))
    await compose.feed("new-db", "start", "db")
    await async_assert_holds(lambda: rig.tracker.stop_pending("shop"), 6 * SETTLE,
                             message="web's stop held while db's check has not passed")
    rig.observed.upsert(container("db", id="new-db", number=2, started_at=compose.at,
                                  health="healthy"))
    rig.observed.upsert(container("web", id="new-web", number=2, started_at=compose.at))
    await compose.feed("new-web", "start", "web")
    assert not rig.tracker.stop_pending("shop")
    await async_assert_holds(lambda: not rig.decided, 3 * SETTLE, message="nothing judged")
    assert rig.state() is DesiredState.RUNNING and rig.state("web") is None
