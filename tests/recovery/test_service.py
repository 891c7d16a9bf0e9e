"""RecoveryService without Docker: triggers, supervised runs, the run deadline, backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog

from health.factories import container, reached
from stackmedic.deployments.actions import Action
from stackmedic.observe.boot import RestartKind
from stackmedic.recovery.events import (
    RecoveryEvent,
    RestartReconcileFinished,
    RestartReconcileStarted,
)
from stackmedic.supervise.heartbeat import Heartbeats
from stackmedic.watch import recovery_check
from support.clock import SteppedClock
from support.wait import async_assert_holds, async_wait_until

from .rig import Rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    made = Rig(tmp_path)
    await made.start()
    try:
        yield made
    finally:
        await made.close()


async def test_an_ill_deployment_is_recovered_and_the_run_recorded(rig: Rig) -> None:
    await rig.put(container("web"), container("db"))
    await rig.crash("db")

    await async_wait_until(lambda: rig.outcomes() == ["recovered"], 10,
                           message="one recovered run")
    assert rig.executor.done == ["start db"]
    assert [e.kind for e in rig.announced] == ["recovery-started", "recovery-succeeded"]
    assert rig.service.state("shop")["phase"] == "idle"
    assert rig.service.problems() == []


async def test_a_run_that_raises_is_logged_retried_after_backoff_and_reported(
    rig: Rig,
) -> None:
    loop = Heartbeats().add(  # the agent's `recovery` loop, as AgentWatch registers it
        "recovery", 60, check=lambda: recovery_check(lambda: None, rig.service.problems))
    rig.executor.fail.append(RuntimeError("the store went away"))
    rig.executor.hold = asyncio.Event()  # the retry waits here until the test looked
    await rig.put(container("web"), container("db"))
    with structlog.testing.capture_logs() as logs:
        await rig.crash("db")
        await async_wait_until(lambda: rig.executor.waiting == 1, 10,
                               message="the retry is acting")

    failed = [entry for entry in logs if entry["event"] == "task failed"]
    assert [entry["task"] for entry in failed] == ["recovery:shop"]
    assert "RuntimeError: the store went away" in failed[0]["traceback"]
    assert "Traceback (most recent call last)" in failed[0]["traceback"]
    [problem] = rig.service.problems()
    assert problem == ("recovery of shop failed: RuntimeError: the store went away; "
                       "next try in 0.1s")
    assert loop.status().problem == f"recovery: {problem}"  # what /healthz shows
    assert rig.outcomes() == ["interrupted", "running"]  # the row of the failed run ended
    assert rig.supervisor.status["recovery:shop"].failures == 1

    rig.executor.hold.set()
    await async_wait_until(lambda: rig.outcomes() == ["interrupted", "recovered"], 10,
                           message="the retry recovered it")
    assert rig.service.problems() == []
    assert loop.status().ok
    assert rig.supervisor.problems() == []


async def test_a_run_past_its_deadline_ends_timed_out_and_the_next_follows_backoff(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, run_timeout_seconds=0.5)
    await rig.start()
    try:
        rig.executor.hold = asyncio.Event()  # the engine never answers
        await rig.put(container("web"), container("db"))
        await rig.crash("db")

        await async_wait_until(lambda: rig.outcomes()[:1] == ["timed-out"], 10,
                               message="the first run ends by its deadline")
        # The lock was given back: a second attempt is acting while the fault lasts.
        await async_wait_until(lambda: rig.executor.waiting == 2, 10,
                               message="the next attempt, after the backoff")
        assert rig.outcomes() == ["timed-out", "running"]
        [problem] = rig.service.problems()
        assert problem == "recovery of shop timed out: the run did not end within 0.5s"
        failed = [e for e in rig.announced if e.kind == "recovery-failed"]
        assert failed[0].message == "attempt 1 timed out after 0.5s; next try in 0.1s"
        assert [r["attempt"] for r in rig.runs.list("shop")] == [2, 1]

        rig.executor.hold.set()  # the fault ends

        def recovered() -> bool:
            health = rig.health.evaluate("shop")
            return health is not None and health.verdict == "healthy" and \
                not rig.service.problems() and "running" not in rig.outcomes()

        await async_wait_until(recovered, 10, message="recovered once the engine answers")
        assert rig.executor.done[:1] == ["start db"]
        # The run that acted may itself have run out of time while verifying; a later
        # one then finds nothing to do. Either way no row is left open.
        assert set(rig.outcomes()) <= {"timed-out", "recovered"}
    finally:
        await rig.close()


async def test_a_stop_by_a_person_drops_the_due_run(rig: Rig) -> None:
    rig.service.schedule("shop", "ill-health", 30)
    assert rig.service.state("shop")["scheduled"] is True
    await rig.service.on_action("shop", Action.STOP)
    await async_wait_until(lambda: rig.service.state("shop")["scheduled"] is False, 5,
                           message="the due run is dropped")
    assert rig.outcomes() == []


async def test_one_due_run_per_deployment(rig: Rig) -> None:
    assert rig.service.schedule("shop", "ill-health", 30) is True
    assert rig.service.schedule("shop", "agent-start", 0) is False
    assert rig.service.state("shop")["scheduled"] is True


async def test_while_a_restart_reconcile_runs_ill_health_schedules_nothing(rig: Rig) -> None:
    await rig.bus.publish(RestartReconcileStarted("daemon", time.time()))
    await rig.put(container("web"), container("db"))
    await rig.crash("db")
    assert rig.service.state("shop")["scheduled"] is False


async def test_a_restart_found_on_connect_holds_runs_until_its_reconcile_ends(
        rig: Rig) -> None:
    await rig.service.on_engine_reached(reached())  # no restart: nothing held
    assert rig.service.schedule("shop", "ill-health", 30) is True
    await rig.service.on_engine_reached(reached(restart=RestartKind.DAEMON))
    await async_wait_until(lambda: rig.service.state("shop")["scheduled"] is False, 5,
                           message="the due run is dropped: the reconcile owns it")
    await rig.put(container("web"), container("db"))
    await rig.crash("db")  # what the resync finds is the reconcile's to recover
    await async_assert_holds(lambda: rig.service.state("shop")["scheduled"] is False, 0.3,
                             message="nothing scheduled while the reconcile owns it")
    await rig.bus.publish(RestartReconcileFinished("daemon", time.time()))
    assert not rig.service.reconciling
    await rig.put(container("db"))
    await rig.crash("db")
    await async_wait_until(lambda: rig.service.state("shop")["scheduled"] is True, 5,
                           message="ill health schedules a run again")


async def test_a_run_scheduled_right_after_a_cancel_still_happens(rig: Rig) -> None:
    await rig.put(container("web"), container("db"))
    rig.service.schedule("shop", "ill-health", 30)
    await rig.service.on_action("shop", Action.STOP)  # cancelled; it ends on the next turn
    await rig.crash("db")
    assert rig.service.schedule("shop", "agent-start", 0) is True
    await async_wait_until(lambda: rig.outcomes() == ["recovered"], 10,
                           message="the new run recovered it")


async def test_the_wall_clock_set_back_an_hour_after_a_failed_attempt_delays_nothing(
    tmp_path: Path,
) -> None:
    # A host without a real-time clock boots with a wrong time and NTP sets it later.
    clock = SteppedClock()
    rig = Rig(tmp_path, clock=clock, run_timeout_seconds=0.5)

    async def set_back(event: RecoveryEvent) -> None:
        if event.kind == "recovery-failed":
            clock.step(-3600)

    rig.bus.subscribe(RecoveryEvent, set_back)
    await rig.start()
    try:
        rig.executor.hold = asyncio.Event()  # each attempt runs out of time
        await rig.put(container("web"), container("db"))
        await rig.crash("db")
        await async_wait_until(lambda: rig.executor.waiting >= 3, 10,
                               message="attempts follow the backoff, not the wall clock")
        assert rig.outcomes()[:2] == ["timed-out", "timed-out"]
        shown = rig.service.state("shop")
        assert shown["phase"] == "backoff"
        next_at = shown["next_attempt_at"]
        assert isinstance(next_at, float)
        assert next_at <= clock.wall() + rig.config.backoff_max_seconds  # shown as now reads
    finally:
        await rig.close()
