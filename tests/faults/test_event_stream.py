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
