"""The event stream against the real engine: a bounded queue that resyncs on overflow."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stackmedic.engine.client import EngineClient
from stackmedic.engine.events import EventStream
from support.compose import run_docker
from support.wait import async_wait_until

pytestmark = pytest.mark.docker


async def test_overflow_is_counted_and_resynced(busybox_image: str) -> None:
    client = EngineClient()
    release = asyncio.Event()
    handled: list[dict[str, Any]] = []
    resyncs: list[int] = []

    async def on_event(event: dict[str, Any]) -> None:
        await release.wait()  # a slow consumer: events pile up behind the first
        handled.append(event)

    async def nothing() -> None:
        return None

    async def resync() -> None:
        resyncs.append(stream.dropped)

    stream = EventStream(client, on_event, on_connected=nothing, on_disconnected=nothing,
                         on_overflow=resync, queue_size=2, backoff_initial=0.1,
                         backoff_max=0.5)
    task = asyncio.create_task(stream.run())
    try:
        await async_wait_until(stream.connected.is_set, 30, message="stream connected")
        for _ in range(2):  # create, start, die, destroy... of each: more than 1 + 2 events
            await asyncio.to_thread(run_docker, "run", "--rm", "--network", "none",
                                    busybox_image, "true")
        await async_wait_until(lambda: stream.dropped > 0, 30, message="events dropped")
        release.set()
        await async_wait_until(lambda: resyncs, 30, message="resync after the overflow")
        assert resyncs[0] >= 1
        assert stream.connected.is_set()
        # The cursor moved past what was dropped: a replay would not bring it back.
        assert stream.cursor is not None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()


class _Unreachable:
    """An engine that does not answer (a daemon still starting at boot)."""

    def __init__(self) -> None:
        self.status = type("Status", (), {"error": "connection refused"})()
        self.pings = 0

    async def ping(self) -> bool:
        self.pings += 1
        return False


@pytest.mark.parametrize("window, grows", [(300.0, False), (0.0, True)],
                         ids=["at-boot", "long-unreachable"])
async def test_a_daemon_not_yet_up_is_asked_again_at_the_first_delay(
    monkeypatch: pytest.MonkeyPatch, window: float, grows: bool
) -> None:
    # At boot the agent starts beside the daemon: growing waits would leave it seconds
    # behind a daemon that took a few seconds to come up; a daemon away for long (past
    # the window) is not asked in a tight loop.
    real_sleep = asyncio.sleep
    delays: list[float] = []

    async def recorded(delay: float) -> None:
        delays.append(delay)
        await real_sleep(0)

    async def nothing() -> None:
        return None

    stream = EventStream(_Unreachable(), nothing_event,  # type: ignore[arg-type]
                         on_connected=nothing, on_disconnected=nothing,
                         backoff_initial=0.5, backoff_max=30)
    monkeypatch.setattr("stackmedic.engine.events.FIRST_CONTACT_SECONDS", window)
    monkeypatch.setattr("stackmedic.engine.events.asyncio.sleep", recorded)
    task = asyncio.create_task(stream.run())
    try:
        for _ in range(1000):
            if len(delays) >= 6:
                break
            await real_sleep(0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(delays) >= 6
    assert delays[:4] == ([0.5, 1.0, 2.0, 4.0] if grows else [0.1] * 4)


async def nothing_event(event: dict[str, Any]) -> None:
    return None
