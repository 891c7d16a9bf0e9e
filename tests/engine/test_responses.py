"""Engine reads cut short by a deadline or a cancellation hang up at once.

A fake engine on a Unix socket answers the headers and a part of the body, then holds the
connection: the client must close it when it gives up, not leave it for the garbage
collector to find ("Unclosed connection").
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import tempfile
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from stackmedic.engine.client import EngineClient, EngineTimeout

VERSION = {"ApiVersion": "1.41", "Version": "20.10.24"}
CONTAINER = {"Id": "abc", "Config": {"Tty": False}}
# One complete log frame ("hi\n") and the start of a second one.
PARTIAL_LOG = b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n\x01\x00"
DEADLINE = 1.0  # long enough to reach the held body on a busy machine


class HoldingEngine:
    """Answers /version and inspect in full; logs and stats with a partial body, then holds."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="smh", dir="/tmp"))  # short socket path
        self.host = f"unix://{self.folder / 'engine.sock'}"
        self.holding = asyncio.Event()  # a partial answer was sent
        self.hung_up = asyncio.Event()  # the client closed a held connection
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0  # how many the client opened

    async def start(self) -> None:
        """Listen."""
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.folder / "engine.sock"))

    async def stop(self) -> None:
        """Close every connection and the listener."""
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ")[1].split(b"?")[0]
                if path.endswith(b"/version"):
                    writer.write(_answer(json.dumps(VERSION).encode()))
                elif path.endswith(b"/json"):
                    writer.write(_answer(json.dumps(CONTAINER).encode()))
                else:
                    await self._hold(reader, writer, path)
                    return
                await writer.drain()

    async def _hold(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: bytes
    ) -> None:
        if path.endswith(b"/logs"):
            kind, body = b"application/vnd.docker.raw-stream", PARTIAL_LOG
        else:
            kind, body = b"application/json", b'{"read": "2024-01-01T00:00:00Z", "mem'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: " + kind
                     + b"\r\nContent-Length: 4096\r\n\r\n" + body)
        await writer.drain()
        self.holding.set()
        await reader.read()  # returns at end of file: the client hung up
        self.hung_up.set()


def _answer(body: bytes) -> bytes:
    head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


@pytest.fixture
async def engine() -> AsyncIterator[HoldingEngine]:
    """A fake engine that holds its log and stats answers half sent."""
    server = HoldingEngine()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


Read = Callable[[EngineClient], Awaitable[Any]]
READS: dict[str, Read] = {
    "log tail": lambda client: client.container_logs("abc", 10, timeout=DEADLINE),
    "stats list": lambda client: client.call(
        "stats", client.docker.containers.container("abc").stats(stream=False), DEADLINE),
}


def _resource_warnings_at_collection() -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("read", READS, ids=list(READS))
async def test_a_read_past_its_deadline_hangs_up(engine: HoldingEngine, read: str) -> None:
    client = EngineClient(engine.host)
    try:
        with pytest.raises(EngineTimeout):
            await READS[read](client)
        await asyncio.wait_for(engine.hung_up.wait(), 5)
    finally:
        await client.close()
    assert _resource_warnings_at_collection() == []


async def test_a_cancelled_read_hangs_up(engine: HoldingEngine) -> None:
    client = EngineClient(engine.host)
    try:
        task = asyncio.create_task(client.container_logs("abc", 10))
        await asyncio.wait_for(engine.holding.wait(), 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.wait_for(engine.hung_up.wait(), 5)
    finally:
        await client.close()
    assert _resource_warnings_at_collection() == []


async def test_a_finished_read_keeps_the_connection_for_the_next_call(
    engine: HoldingEngine,
) -> None:
    client = EngineClient(engine.host)
    try:
        for _ in range(3):
            assert await client.inspect_container("abc") == CONTAINER
        assert not engine.hung_up.is_set()
        assert engine.connections == 1  # one connection served every call
    finally:
        await client.close()
