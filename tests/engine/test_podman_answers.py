"""Answers as Podman's compat API gives them, read as the engine meant them.

Podman 4.3's stats endpoint writes its status line before it sets the Content-Type, so the
answer comes chunked and with no Content-Type at all (seen in the cgroup v2 VM: 200 and
1,365 bytes of JSON). aiodocker's own JSON reader returns an empty string for it: the stats
fallback and the network figures read through the stats API saw nothing on Podman.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stackmedic.engine.client import EngineClient
from stackmedic.resources.stats_api import StatsApiReader

STATS = {"read": "2026-12-07T14:50:55.1Z",
         "cpu_stats": {"cpu_usage": {"total_usage": 26_797_217_000}},
         "memory_stats": {"usage": 106_500, "limit": 3_116_000_000},
         "networks": {"eth0": {"rx_bytes": 726, "tx_bytes": 2082}}}
VERSION = {"ApiVersion": "1.41", "Version": "4.3.1",
           "Components": [{"Name": "Podman Engine", "Version": "4.3.1"}]}


class PodmanLike:
    """Answers /version as JSON and a container's stats chunked with no Content-Type."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="smp", dir="/tmp"))  # short socket path
        self.host = f"unix://{self.folder / 'podman.sock'}"
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen."""
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.folder / "podman.sock"))

    async def stop(self) -> None:
        """Close the listener."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                if "/stats" in path:
                    body = json.dumps(STATS).encode() + b"\n"
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
                else:
                    body = json.dumps(VERSION).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@pytest.fixture
async def podman() -> AsyncIterator[PodmanLike]:
    engine = PodmanLike()
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


async def test_stats_without_a_content_type_are_read_as_json(podman: PodmanLike) -> None:
    client = EngineClient(podman.host)
    try:
        reader = StatsApiReader(client.docker)
        raw = await reader.raw("abc")
        assert raw == STATS
        reading = await reader.read("abc")
        assert reading is not None
        assert await client.container_stats("abc", one_shot=True) == STATS
    finally:
        await client.close()
