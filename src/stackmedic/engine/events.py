"""The engine's event stream, kept open with reconnects and resumed from a cursor."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiodocker
import aiohttp
import structlog
from aiodocker.events import DockerEvents

from stackmedic.engine.client import EngineClient

log = structlog.get_logger(__name__)

EventHandler = Callable[[dict[str, Any]], Awaitable[None]]
StreamHandler = Callable[[], Awaitable[None]]

STREAM_FILTERS = json.dumps({"type": ["container", "network"]})


class EventStream:
    """Reads engine events forever; reconnects with backoff and replays from the cursor.

    ``on_connected`` runs after every (re)connect, before events flow, so the caller can
    resync; ``on_disconnected`` runs when the stream ends, which is how an orderly daemon
    shutdown shows itself.
    """

    def __init__(
        self,
        client: EngineClient,
        on_event: EventHandler,
        *,
        on_connected: StreamHandler,
        on_disconnected: StreamHandler,
        cursor: str | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self._client = client
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.cursor = cursor
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self.connected = asyncio.Event()
        self.connections = 0

    async def run(self) -> None:
        """Keep the stream open until cancelled."""
        delay = self._backoff_initial
        while True:
            if await self._client.ping():
                delay = self._backoff_initial
                try:
                    await self._stream_once()
                except (aiodocker.DockerError, aiohttp.ClientError, OSError) as exc:
                    self._client.mark_unreachable(exc)
                finally:
                    if self.connected.is_set():
                        self.connected.clear()
                        await self._on_disconnected()
                # The stream ending means the daemon went away or is going; check again.
                if await self._client.ping():
                    continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)

    async def _stream_once(self) -> None:
        docker = self._client.docker
        events = DockerEvents(docker)  # type: ignore[no-untyped-call]
        subscriber = events.subscribe(create_task=False)  # type: ignore[no-untyped-call]
        params: dict[str, Any] = {"filters": STREAM_FILTERS}
        if self.cursor:
            params["since"] = self.cursor
            # Replay what was missed, then continue live; the engine ends a stream with
            # ``until`` set, so live mode needs none.
        else:
            # Nothing seen yet: everything before now is covered by the resync that follows.
            self.cursor = format_cursor(time.time_ns())
        reader = asyncio.create_task(events.run(**params))
        try:
            self.connections += 1
            self.connected.set()
            await self._on_connected()
            while True:
                get = asyncio.create_task(subscriber.get())
                done, _ = await asyncio.wait({get, reader}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    await asyncio.gather(get, return_exceptions=True)
                    reader.result()  # re-raise a stream error
                    return
                event = get.result()
                if event is None:
                    return
                await self._handle(event)
        finally:
            if not reader.done():
                await events.stop()  # type: ignore[no-untyped-call]
                reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _handle(self, event: dict[str, Any]) -> None:
        nano = event.get("timeNano")
        try:
            await self._on_event(event)
        except Exception:
            log.exception("event handler failed", event=event.get("Action"))
        if nano:
            self.cursor = format_cursor(int(nano))


def format_cursor(nanoseconds: int) -> str:
    """The engine's ``since`` format for a time in nanoseconds since the epoch."""
    return f"{nanoseconds // 1_000_000_000}.{nanoseconds % 1_000_000_000:09d}"


def event_time(event: dict[str, Any]) -> float:
    """The event's time in seconds since the epoch."""
    nano = event.get("timeNano")
    if nano:
        return int(nano) / 1e9
    return time.time()
