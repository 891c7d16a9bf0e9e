"""One container's log, followed through the Engine API from where it was last read.

A follower reads ``GET /containers/{id}/logs?follow=1&timestamps=1``: from the stored
position (``since`` that time, skipping what was already read at exactly that time), from
the beginning for a container started after the watch began, or from now. It ends with
the stream (the container stopped, or the engine went away); the watch starts a new one
when the container runs again. A container louder than ``max_lines_per_second`` is read at
that pace (the engine keeps the rest); one more than ``max_lag_seconds`` behind is skipped
ahead to now and the gap counted.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import aiodocker
import aiohttp
import structlog

from stackmedic.engine.client import engine_time
from stackmedic.logwatch.config import LogsConfig
from stackmedic.logwatch.frames import RawLine, StreamDecoder
from stackmedic.logwatch.tally import Cursor

log = structlog.get_logger(__name__)

UNREADABLE_DRIVERS = frozenset({"none"})
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30)
# A container printing now and then would wake the loop for every line; reading at most
# this often gathers its lines into one read (rules do not need them sooner).
BATCH_SECONDS = 0.25
FULL_READ = 32 * 1024  # a read this big means more is waiting: read on at once


class FollowState(StrEnum):
    """Where following one container's log stands."""

    STARTING = "starting"
    FOLLOWING = "following"
    ENDED = "ended"  # the stream ended: the container stopped or the engine went away
    UNREADABLE = "unreadable"  # its log driver keeps nothing the engine can read back
    FAILED = "failed"  # the engine refused or the connection broke; tried again later


@dataclass(frozen=True)
class Target:
    """A container to follow, and whose it is."""

    container_id: str
    deployment: str
    service: str
    name: str
    started_at: float | None


@dataclass(frozen=True)
class Start:
    """Where reading begins: after a stored position, at the beginning, or (neither) now."""

    cursor: Cursor | None = None
    beginning: bool = False


def since_param(read_to: str) -> str:
    """The engine's ``since`` (seconds.nanoseconds) of an RFC 3339 time, to the nanosecond."""
    head, _, rest = read_to.partition(".")
    digits = "".join(ch for ch in rest if ch.isdigit())[:9].ljust(9, "0")
    seconds = int(datetime.fromisoformat(head[:19]).replace(tzinfo=UTC).timestamp())
    return f"{seconds}.{digits}"


class Follower:
    """Follows one container's log and hands its new lines to ``on_lines``."""

    def __init__(self, docker: aiodocker.Docker, target: Target, start: Start,
                 config: LogsConfig, on_lines: Callable[[Follower, list[RawLine]], None],
                 *, engine_now: Callable[[], float] = time.time) -> None:
        self.target = target
        self.state = FollowState.STARTING
        self.detail = ""
        self.lines = 0
        self.bytes = 0
        self.gaps = 0  # times it fell too far behind and skipped ahead
        self.tty = False
        self.driver = ""
        self.recent: deque[str] = deque(maxlen=max(config.recent_lines, 1))
        self.ended_at: float | None = None
        self.rate = 0.0  # lines per second read, over the last second or so
        self._rate_since = time.monotonic()
        self._rate_lines = 0
        self._window = time.monotonic()  # the budget's current second began here
        self._in_window = 0
        self.decoder = StreamDecoder(tty=False, max_line=config.max_line_bytes)
        self._docker = docker
        self._start = start
        self._config = config
        self._on_lines = on_lines
        self._engine_now = engine_now
        self._read_to = start.cursor.read_to if start.cursor else ""
        self._same = start.cursor.same_time if start.cursor else 0
        self._skip_same = self._same
        self._resuming = bool(self._read_to)

    @property
    def cut_lines(self) -> int:
        """Lines longer than ``max_line_bytes``, cut."""
        return self.decoder.cut_lines

    @property
    def cursor(self) -> Cursor | None:
        """How far it has read."""
        if not self._read_to:
            return None
        return Cursor(self.target.deployment, self._read_to, self._same)

    async def run(self) -> None:
        """Follow until the stream ends; never raises for what the engine answers."""
        try:
            await self._run()
        except (aiodocker.DockerError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._refused(exc)
        finally:
            self.ended_at = time.monotonic()

    async def _run(self) -> None:
        container = await self._docker.containers.get(self.target.container_id)
        info = container._container
        self.tty = bool((info.get("Config") or {}).get("Tty"))
        self.driver = str(((info.get("HostConfig") or {}).get("LogConfig") or {}).get("Type", ""))
        if self.driver in UNREADABLE_DRIVERS:
            self.state = FollowState.UNREADABLE
            self.detail = f"log driver {self.driver!r} keeps no output to read"
            return
        self.decoder = StreamDecoder(tty=self.tty, max_line=self._config.max_line_bytes)
        # From now is ``tail=0``: the engine seeks to the end of the log file, where
        # ``since`` would make it read the whole file to find the place.
        where = {"since": since_param(self._read_to)} if self._read_to else (
            {} if self._start.beginning else {"tail": "0"})
        while await self._stream(where):
            self.gaps += 1
            where = {"tail": "0"}
            self._read_to, self._same, self._resuming = "", 0, False
            self.decoder = StreamDecoder(tty=self.tty, max_line=self._config.max_line_bytes)
        for line in self.decoder.flush():
            self._deliver([line])
        self.state = FollowState.ENDED
        self.detail = "stream ended"

    async def _stream(self, where: dict[str, str]) -> bool:
        """Read one follow stream to its end; True when it was left to skip ahead."""
        params = {"follow": "1", "stdout": "1", "stderr": "1", "timestamps": "1", **where}
        async with self._docker._query(f"containers/{self.target.container_id}/logs",
                                       params=params, timeout=STREAM_TIMEOUT) as response:
            self.state, self.detail = FollowState.FOLLOWING, ""
            while True:
                chunk = await response.content.readany()
                if not chunk:
                    return False
                self.bytes += len(chunk)
                lines = self._fresh(self.decoder.feed(chunk))
                if lines:
                    self._deliver(lines)
                if await self._paced(len(lines)):
                    if lines and self._behind(lines[-1].at):
                        return True
                elif len(chunk) < FULL_READ:
                    await asyncio.sleep(BATCH_SECONDS)

    async def _paced(self, count: int) -> bool:
        """Count lines against the budget (a bucket refilled each second, across streams);
        when it is spent, wait for the next second (the engine keeps the rest meanwhile)."""
        budget = self._config.max_lines_per_second
        self._in_window += count
        paced = False
        while self._in_window >= budget:
            paced = True
            wait = self._window + 1.0 - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            # No credit saved from before the last second: a quiet spell is no licence.
            self._window = max(self._window + 1.0, time.monotonic() - 1.0)
            self._in_window -= budget
        return paced

    def _behind(self, at: str) -> bool:
        stamp = engine_time(at)
        return stamp is not None and self._engine_now() - stamp > self._config.max_lag_seconds

    def _fresh(self, lines: list[RawLine]) -> list[RawLine]:
        """Drop what an earlier stream already read (``since`` includes its own time)."""
        if not self._resuming:
            return lines
        fresh: list[RawLine] = []
        for line in lines:
            already = line.at < self._read_to or (
                line.at == self._read_to and self._skip_same > 0)
            if fresh or not line.at or not already:
                fresh.append(line)
            elif line.at == self._read_to:
                self._skip_same -= 1
        if fresh:
            self._resuming = False
        return fresh

    def _deliver(self, lines: list[RawLine]) -> None:
        for line in lines:
            if line.at == self._read_to:
                self._same += 1
            elif line.at > self._read_to:
                self._read_to, self._same = line.at, 1
        self.lines += len(lines)
        self._rate_lines += len(lines)
        now = time.monotonic()
        if now - self._rate_since >= 1.0:
            self.rate = self._rate_lines / (now - self._rate_since)
            self._rate_since, self._rate_lines = now, 0
        self.recent.extend(line.text for line in lines[-(self.recent.maxlen or 1):])
        self._on_lines(self, lines)

    def _refused(self, exc: BaseException) -> None:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, aiodocker.DockerError) and (
                "does not support reading" in message or exc.status == 501):
            self.state = FollowState.UNREADABLE
            self.detail = f"log driver {self.driver or '?'!r} cannot be read back: {message}"
            return
        if isinstance(exc, aiodocker.DockerError) and exc.status == 404:
            self.state, self.detail = FollowState.ENDED, "container removed"
            return
        self.state = FollowState.FAILED
        self.detail = message[:300]
        # At debug: with the engine away every container fails alike, every few seconds.
        log.debug("log stream failed", container=self.target.name, error=self.detail)
