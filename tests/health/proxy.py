"""A Unix-socket proxy in front of a Docker socket that a test can cut, restore and fault.

Faults apply per request path (a regular expression on the path, API version prefix
included): ``close`` drops the connection unanswered, ``stall`` holds it without an
answer until the fault is cleared, and an HTTP status (403, 500, ...) answers with that
error, as docker-socket-proxy does for a refused endpoint. Every request is forwarded
with ``Connection: close`` so that each one passes the fault check.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path

DOCKER_SOCKET = "/var/run/docker.sock"
CHUNK = 65536
Fault = str | int  # "close", "stall" or an HTTP status


class SocketProxy:
    """Forwards connections to the Docker socket; ``cut`` drops them all and refuses more."""

    def __init__(self, target: str = DOCKER_SOCKET) -> None:
        self.target = target
        self.folder = Path(tempfile.mkdtemp(prefix="smh", dir="/tmp"))  # short socket path
        self.path = self.folder / "docker.sock"
        self.refusing = False
        self.faults: dict[str, Fault] = {}
        self.requests: Counter[str] = Counter()  # request paths seen, query left out
        self.faulted: Counter[str] = Counter()  # pattern -> requests it caught
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._stalled: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def host(self) -> str:
        """The DOCKER_HOST value that goes through the proxy."""
        return f"unix://{self.path}"

    async def start(self) -> None:
        """Listen."""
        self._server = await asyncio.start_unix_server(self._accept, path=str(self.path))

    def fault(self, pattern: str, fault: Fault) -> None:
        """Apply ``fault`` to every request whose path matches ``pattern`` (re.search)."""
        self.faults[pattern] = fault

    def clear(self, pattern: str | None = None) -> None:
        """End one fault (or all); stalled connections are closed."""
        if pattern is None:
            self.faults.clear()
        else:
            self.faults.pop(pattern, None)
        for writer in list(self._stalled):
            writer.close()
        self._stalled.clear()

    def count(self, pattern: str) -> int:
        """How many requests so far had a path matching ``pattern``."""
        return sum(n for path, n in self.requests.items() if re.search(pattern, path))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        path = parts[1].split("?", 1)[0] if len(parts) > 1 else ""
        self.requests[path] += 1
        for pattern, fault in list(self.faults.items()):
            if re.search(pattern, path):
                self.faulted[pattern] += 1
                self._apply(fault, writer)
                return
        kept = [line for line in lines[1:] if line and not line.lower().startswith("connection:")]
        head = "\r\n".join([lines[0], *kept, "Connection: close", "", ""]).encode("latin-1")
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        except OSError:
            writer.close()
            return
        up_writer.write(head)
        self._writers.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    def _apply(self, fault: Fault, writer: asyncio.StreamWriter) -> None:
        if fault == "close":
            writer.close()
        elif fault == "stall":
            self._stalled.add(writer)
            self._writers.add(writer)
        else:
            body = b'{"message":"refused by the test proxy"}'
            writer.write(
                f"HTTP/1.1 {int(fault)} Refused\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
            )
            writer.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(CHUNK):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()
            self._writers.discard(sink)

    def cut(self) -> None:
        """Drop every open connection (the event stream with them) and refuse new ones."""
        self.refusing = True
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        self._stalled.clear()

    def restore(self) -> None:
        """Accept connections again."""
        self.refusing = False

    async def close(self) -> None:
        """Stop listening, drop everything and remove the socket folder."""
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._pipes):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._pipes, return_exceptions=True)
        shutil.rmtree(self.folder, ignore_errors=True)
