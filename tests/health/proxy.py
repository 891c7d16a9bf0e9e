"""A Unix-socket proxy in front of the Docker socket that a test can cut and restore."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path

DOCKER_SOCKET = "/var/run/docker.sock"
CHUNK = 65536


class SocketProxy:
    """Forwards connections to the Docker socket; ``cut`` drops them all and refuses more."""

    def __init__(self, target: str = DOCKER_SOCKET) -> None:
        self.target = target
        self.folder = Path(tempfile.mkdtemp(prefix="smh", dir="/tmp"))  # short socket path
        self.path = self.folder / "docker.sock"
        self.refusing = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def host(self) -> str:
        """The DOCKER_HOST value that goes through the proxy."""
        return f"unix://{self.path}"

    async def start(self) -> None:
        """Listen."""
        self._server = await asyncio.start_unix_server(self._accept, path=str(self.path))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

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
