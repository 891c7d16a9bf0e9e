"""ContainerMonitor without Docker: events and sweeps interleaved on purpose.

The engine here is scripted (the test decides when each list or inspect answers), so the
races that a busy host makes rare happen every time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from stackmedic.bus import Bus
from stackmedic.engine.client import EngineClient
from stackmedic.observe.monitor import ContainerMonitor
from stackmedic.observe.state import ObservedState
from support.wait import async_wait_until


def inspect_answer(container_id: str, status: str) -> dict[str, Any]:
    """What the engine's inspect says about a Compose container in ``status``."""
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}
    return {"Id": container_id, "Name": f"/{container_id}", "Config": {"Labels": labels},
            "State": {"Status": status}}


def list_entry(container_id: str, status: str) -> dict[str, Any]:
    """What the engine's container list says about it."""
    return {"Id": container_id, "State": status, "Status": status}


def event(container_id: str, action: str) -> dict[str, Any]:
    """An engine event about a Compose container."""
    return {"Type": "container", "Action": action,
            "Actor": {"ID": container_id,
                      "Attributes": {"com.docker.compose.project": "shop"}}}


class ScriptedEngine(EngineClient):
    """An engine whose answers the test releases one at a time."""

    def __init__(self) -> None:
        super().__init__("unix:///nowhere")
        self.listing: list[dict[str, Any]] = []
        self.states: dict[str, str] = {}
        self.errors: dict[str, str] = {}  # State.Error, as a failed start leaves it
        self.gates: dict[str, asyncio.Event] = {}
        self.waiting: list[str] = []
        self.lists = 0
        self.concurrent_lists = 0
        self.most_concurrent_lists = 0

    def hold(self, key: str) -> asyncio.Event:
        """Make the call ``key`` ("list" or a container id) wait until released."""
        self.gates[key] = asyncio.Event()
        return self.gates[key]

    async def _gate(self, key: str) -> None:
        gate = self.gates.get(key)
        if gate is not None:
            self.waiting.append(key)
            await gate.wait()

    async def list_project_containers(self) -> list[dict[str, Any]]:
        self.lists += 1
        self.concurrent_lists += 1
        self.most_concurrent_lists = max(self.most_concurrent_lists, self.concurrent_lists)
        try:
            snapshot = list(self.listing)
            await self._gate("list")
            return snapshot
        finally:
            self.concurrent_lists -= 1

    async def inspect_container(self, container_id: str) -> dict[str, Any] | None:
        status = self.states.get(container_id)  # read now: the answer is as of the call
        await self._gate(container_id)
        if not status:
            return None
        answer = inspect_answer(container_id, status)
        answer["State"]["Error"] = self.errors.get(container_id, "")
        return answer


async def test_a_stale_sweep_inspect_never_overwrites_a_newer_event() -> None:
    engine, observed = ScriptedEngine(), ObservedState()
    monitor = ContainerMonitor(engine, observed, Bus())
    engine.listing = [list_entry("c1", "running")]
    engine.states["c1"] = "running"
    held = engine.hold("c1")
    sweep = asyncio.create_task(monitor.sweep())
    await async_wait_until(lambda: engine.waiting == ["c1"], 5, message="sweep inspecting")

    engine.states["c1"] = "exited"  # the container dies while the sweep's inspect waits
    del engine.gates["c1"]  # the event's own inspect answers at once
    on_event = asyncio.create_task(monitor.on_event(event("c1", "die")))
    held.set()
    await asyncio.gather(sweep, on_event)
    state = observed.get("c1")
    assert state is not None and state.status == "exited"


async def test_a_container_created_during_a_sweep_is_kept() -> None:
    engine, observed = ScriptedEngine(), ObservedState()
    monitor = ContainerMonitor(engine, observed, Bus())
    listed = engine.hold("list")
    sweep = asyncio.create_task(monitor.sweep())  # lists before c2 exists
    await async_wait_until(lambda: engine.waiting == ["list"], 5, message="sweep listing")

    engine.states["c2"] = "running"
    await monitor.on_event(event("c2", "create"))
    assert observed.get("c2") is not None
    listed.set()
    await sweep
    assert observed.get("c2") is not None, "the sweep's older list must not forget c2"


async def test_a_container_gone_from_the_list_is_forgotten() -> None:
    engine, observed = ScriptedEngine(), ObservedState()
    monitor = ContainerMonitor(engine, observed, Bus())
    engine.listing = [list_entry("c3", "running")]
    engine.states["c3"] = "running"
    await monitor.sweep()
    assert observed.get("c3") is not None
    engine.listing = []
    await monitor.sweep()
    assert observed.get("c3") is None


async def test_a_created_container_is_read_again_until_its_start_failure_is_known() -> None:
    """A failed start (a missing entrypoint, a port taken) sends no event and leaves the
    list's ``created`` as it was: only the inspect's ``State.Error`` tells it."""
    engine, observed = ScriptedEngine(), ObservedState()
    monitor = ContainerMonitor(engine, observed, Bus())
    engine.listing = [list_entry("c4", "created")]
    engine.states["c4"] = "created"
    assert await monitor.sweep() == 1
    assert await monitor.sweep() == 1  # still created, nothing known: read again
    engine.errors["c4"] = 'exec: "/nonexistent": no such file or directory'
    assert await monitor.sweep() == 1
    state = observed.get("c4")
    assert state is not None and state.error is not None and "/nonexistent" in state.error
    assert await monitor.sweep() == 0  # its failure is known: the list says enough again


async def test_one_sweep_at_a_time() -> None:
    engine, observed = ScriptedEngine(), ObservedState()
    monitor = ContainerMonitor(engine, observed, Bus())
    listed = engine.hold("list")
    sweeps = [asyncio.create_task(monitor.sweep()) for _ in range(3)]
    await async_wait_until(lambda: engine.waiting == ["list"], 5, message="first sweep")
    listed.set()
    await asyncio.gather(*sweeps)
    assert engine.lists == 3 and engine.most_concurrent_lists == 1
    assert monitor.sweeps == 3
