"""A recovery whose actions fail because the engine stopped answering blames nobody."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from health.factories import container
from stackmedic.recovery.executor import ActionFailed
from support.wait import async_wait_until

from .rig import Rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = Rig(tmp_path, attempt_budget=2)
    await rig.start()
    try:
        yield rig
    finally:
        await rig.close()


async def test_actions_failing_while_the_engine_is_silent_spend_no_attempt(rig: Rig) -> None:
    rig.executor.silent = "Cannot connect to the Docker daemon"
    rig.executor.fail.extend(ActionFailed("compose timed out after 8s") for _ in range(4))
    await rig.put(container("web"), container("db"))
    await rig.crash("db")

    # Four runs fail while the engine is silent: more than the budget of 2 and more than
    # the escalation (start, then recreate, then give up) allows, yet nobody gives up.
    await async_wait_until(lambda: rig.outcomes().count("deferred") == 4, 20,
                           message="four runs deferred while the engine was silent")
    state = rig.service.state("shop")
    assert state["phase"] != "gave-up"
    assert state["failures"] == 0
    assert not rig.logged("recovery-gave-up")
    [row] = [r for r in rig.runs.list("shop") if r["outcome"] == "deferred"][:1]
    assert "Docker stopped answering" in str(row["error"])
    assert "Cannot connect to the Docker daemon" in str(row["error"])

    rig.executor.silent = None  # the engine answers again
    await async_wait_until(lambda: rig.outcomes()[-1:] == ["recovered"], 20,
                           message="recovered once the engine answered")
    assert rig.executor.done == ["start db"]  # still the mild action: nothing escalated


async def test_an_action_failing_while_the_engine_answers_still_counts(rig: Rig) -> None:
    rig.executor.fail.extend(ActionFailed("no such image") for _ in range(4))
    await rig.put(container("web"), container("db"))
    await rig.crash("db")

    await async_wait_until(lambda: rig.service.state("shop")["phase"] == "gave-up", 20,
                           message="gave up after the budget")
    assert "deferred" not in rig.outcomes()
