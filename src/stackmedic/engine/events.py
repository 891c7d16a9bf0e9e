"""The engine's event stream, kept open with reconnects and resumed from a cursor."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiodocker
import aiohttp
import structlog

from stackmedic.engine.client import EngineClient
from stackmedic.supervise.backoff import exponential

log = structlog.get_logger(__name__)

EventHandler = Callable[[dict[str, Any]], Awaitable[None]]
StreamHandler = Callable[[], Awaitable[None]]

STREAM_FILTERS = json.dumps({"type": ["container", "network"]})
QUEUE_SIZE = 1000
# Until the daemon first answers (for at most this long) it is asked every FIRST_CONTACT_POLL
# at most: at boot the agent starts beside it, and each poll of an absent socket costs nothing.
FIRST_CONTACT_SECONDS = 300.0
FIRST_CONTACT_POLL = 0.1


class EventStream:
    """Reads engine events forever; reconnects with backoff and replays from the cursor.

    ``on_connected`` runs after every (re)connect, once the engine has accepted the
    subscription and before events are handled, so the caller can resync;
    ``on_disconnected`` runs when a connected stream ends, which is how an orderly daemon
    shutdown shows itself. Events wait in a bounded queue; when it overflows the dropped
    events are counted and ``on_overflow`` (a resync) runs before the next one is handled.

    A stream that ends soon after it opened (a proxy refusing ``/events`` while ``/_ping``
    works) is retried with a growing delay, never in a tight loop; the delay starts again
    from ``backoff_initial`` only after a stream stayed open for ``backoff_max``. Until the
    engine first answers, it is asked again every ``FIRST_CONTACT_POLL`` (for at most
    ``FIRST_CONTACT_SECONDS``).
    """

    def __init__(
        self,
        client: EngineClient,
        on_event: EventHandler,
        *,
        on_connected: StreamHandler,
        on_disconnected: StreamHandler,
        on_overflow: StreamHandler | None = None,
        cursor: str | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        queue_size: int = QUEUE_SIZE,
        beat: Callable[[], None] | None = None,
        beat_every: float = 30.0,
    ) -> None:
        self._client = client
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._on_overflow = on_overflow
        self.cursor = cursor
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._queue_size = queue_size
        self._beat = beat or (lambda: None)
        self._beat_every = beat_every
        self.connected = asyncio.Event()
        self.connections = 0
        self.attempts = 0
        self.dropped = 0
        self.error: str | None = None
        self._overflowed = False

    async def run(self) -> None:
        """Keep the stream open until cancelled."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        streak = 0  # connections in a row that failed or ended soon
        while True:
            if await self._client.ping():
                opened = loop.time()
                try:
                    await self._stream_once()
                    self.error = "the engine ended the event stream"
                except (aiodocker.DockerError, aiohttp.ClientError, OSError) as exc:
                    self.error = str(exc) or type(exc).__name__
                    log.info("event stream failed", error=self.error)
                finally:
                    if self.connected.is_set():
                        self.connected.clear()
                        await self._on_disconnected()
                if loop.time() - opened >= self._backoff_max:
                    streak = 0
            else:
                self.error = f"engine unreachable: {self._client.status.error}"
                if self.connections == 0 and loop.time() - began < FIRST_CONTACT_SECONDS:
                    await asyncio.sleep(min(FIRST_CONTACT_POLL, self._backoff_initial))
                    continue
            streak += 1
            await asyncio.sleep(exponential(streak, self._backoff_initial, self._backoff_max))

    async def _subscribe(self) -> aiohttp.ClientResponse:
        """Ask the engine for the stream; returns once it answered (errors raise)."""
        params: dict[str, Any] = {"filters": STREAM_FILTERS}
        if self.cursor:
            # Replay what was missed, then continue live; the engine ends a stream with
            # ``until`` set, so live mode needs none.
            params["since"] = self.cursor
        else:
            # Nothing seen yet: everything before now is covered by the resync that follows.
            self.cursor = format_cursor(time.time_ns())
        endless = aiohttp.ClientTimeout(
            total=None, sock_read=None, sock_connect=self._client.request_timeout
        )
        response: aiohttp.ClientResponse = await self._client.call(
            "subscribe to events",
            self._client.docker._do_query("events", "GET", params=params, timeout=endless),
        )
        return response

    async def _stream_once(self) -> None:
        self.attempts += 1
        response = await self._subscribe()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        reader = asyncio.create_task(self._read(response, queue), name="engine-events-reader")
        try:
            self.connections += 1
            self.connected.set()
            self.error = None
            await self._on_connected()
            self._beat()
            while True:
                if self._overflowed:
                    await self._resync(queue)
                get = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait(
                    {get, reader}, timeout=self._beat_every, return_when=asyncio.FIRST_COMPLETED
                )
                if get not in done:
                    get.cancel()
                    await asyncio.gather(get, return_exceptions=True)
                    if reader in done and queue.empty():
                        reader.result()  # re-raise a stream error
                        return
                    self._beat()
                    continue
                await self._handle(get.result())
                self._beat()
        finally:
            response.close()  # before awaiting: a second cancellation must not skip it
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _read(self, response: aiohttp.ClientResponse, queue: asyncio.Queue[Any]) -> None:
        async for line in response.content:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                log.warning("unreadable engine event", line=line[:200])
                continue
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self.dropped += 1
                self._overflowed = True
                if nano := event.get("timeNano"):
                    self.cursor = format_cursor(int(nano))

    async def _resync(self, queue: asyncio.Queue[Any]) -> None:
        """The queue overflowed: drop what waits and let a resync tell the current state."""
        self._overflowed = False
        skipped = 0
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                event = queue.get_nowait()
                skipped += 1
                if nano := event.get("timeNano"):
                    self.cursor = format_cursor(int(nano))
        self.dropped += skipped
        log.warning("engine events dropped; resyncing", dropped=self.dropped)
        if self._on_overflow is not None:
            await self._on_overflow()

    async def _handle(self, event: dict[str, Any]) -> None:
        nano = event.get("timeNano")
        try:
            await self._on_event(event)
        except Exception:
            log.exception("event handler failed", action=event.get("Action"))
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
