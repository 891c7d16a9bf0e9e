"""RestartReconciler without Docker: one summary that says only what was verified."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from health.factories import container, reached
from stackmedic.observe.boot import RestartKind
from stackmedic.recovery.reconcile import RestartReconciler
from stackmedic.types import DesiredState
from support.wait import async_assert_holds, async_wait_until

from .rig import Rig


def reconciler(rig: Rig) -> RestartReconciler:
    """The reconciler of the rig's recovery service."""
    return RestartReconciler(
        rig.service, catalog=rig.catalog, desired=rig.desired, health=rig.health,
        engine=rig.engine, events=rig.events, bus=rig.bus,
        containers=rig.observed.for_project,
    )


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    made = Rig(tmp_path, run_timeout_seconds=2)
    made.add("blog", "app")
    made.add("old", "app", wanted=DesiredState.STOPPED)
    await made.start()
    # As the engine session tells once it finds the restart, before the resync.
    await made.service.on_engine_reached(reached(restart=RestartKind.DAEMON))
    await made.put(container("web"), container("app", project="blog"))
    await made.crash("db")
    try:
        yield made
    finally:
        await made.close()


async def test_after_a_daemon_restart_each_deployment_lands_in_one_bucket(rig: Rig) -> None:
    summary = await reconciler(rig).run(RestartKind.DAEMON)

    assert summary.came_back == ["blog"]
    assert [(b["deployment"], b["how"]) for b in summary.brought_back] == [
        ("shop", "start db")]
    assert summary.still_down == [] and summary.unaccounted == []
    assert summary.left_stopped == ["old"]
    assert rig.outcomes() == ["recovered"]
    assert rig.service.reconciling is False
    [logged] = rig.logged("restart-summary")
    assert logged["message"].startswith("recovered after daemon restart")
    assert [e.kind for e in rig.announced][-1] == "restart-summary"


async def test_a_run_past_its_deadline_is_still_down_and_retried_after(rig: Rig) -> None:
    rig.executor.hold = asyncio.Event()  # the engine hangs through the reconcile

    summary = await reconciler(rig).run(RestartKind.HOST)

    assert summary.still_down == [
        {"deployment": "shop", "why": "the run did not end within 2s",
         "next": f"stackmedic tries again in {rig.config.backoff_initial_seconds:g}s"}]
    assert summary.came_back == ["blog"]
    assert rig.outcomes() == ["timed-out"]
    assert rig.service.state("shop")["scheduled"] is True  # the retry, after the backoff

    rig.executor.hold.set()
    await async_wait_until(lambda: "recovered" in rig.outcomes(), 10,
                           message="the retry recovers it once the engine answers")
    assert rig.service.problems() == []


async def test_a_slow_starter_acts_before_the_others_begin(rig: Rig) -> None:
    # The slowest to be ready bound when everything is up: on a small host its start
    # should not share the CPU with every other run's.
    rig.add("slow", "app")
    slow = rig.catalog.deployments["slow"]
    rig.catalog.deployments["slow"] = replace(
        slow, services={"app": replace(slow.services["app"], ready_within=12.0)})
    await rig.crash("app", project="slow")
    rig.executor.hold, rig.executor.hold_only = asyncio.Event(), "slow"
    run = asyncio.create_task(reconciler(rig).run(RestartKind.HOST))
    try:
        await async_wait_until(lambda: rig.executor.waiting == 1, 10,
                               message="the slow starter acting")
        await async_assert_holds(lambda: rig.executor.done == [], 1.0,
                                 message="no other run acts before the slow starter has")
        rig.executor.hold.set()
        summary = await asyncio.wait_for(run, 30)
    finally:
        rig.executor.hold.set()
        await asyncio.gather(run, return_exceptions=True)
    assert rig.executor.done == ["start app", "start db"]
    assert [b["deployment"] for b in summary.brought_back] == ["shop", "slow"]
