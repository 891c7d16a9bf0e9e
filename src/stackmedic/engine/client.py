"""One aiodocker client with the engine's reachability and identity tracked for the agent.

Every call through ``EngineClient`` has a deadline (``request_timeout``): a wedged daemon
raises ``EngineTimeout`` instead of blocking its caller for ever. ``EngineTimeout`` is an
``aiodocker.DockerError`` (status 504) and a ``TimeoutError``, so code that already handles
either handles a deadline too. Only the event stream is exempt (it is open by design).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import aiodocker
import aiohttp
import structlog

from stackmedic.engine.docker_api import Docker, json_answer
from stackmedic.engine.identity import EngineIdentity, EngineKind, identify

log = structlog.get_logger(__name__)

DEFAULT_HOST = "unix:///var/run/docker.sock"
COMPOSE_PROJECT = "com.docker.compose.project"


@dataclass
class EngineStatus:
    """Whether the engine answers, and what it said last."""

    reachable: bool = False
    since: float = 0.0
    error: str | None = None
    daemon_id: str | None = None
    version: str | None = None
    api_version: str | None = None


T = TypeVar("T")


class EngineUnavailable(Exception):
    """The Docker Engine did not answer."""


class EngineTimeout(aiodocker.DockerError, TimeoutError):
    """An engine call did not finish within its deadline."""

    def __init__(self, what: str, seconds: float) -> None:
        aiodocker.DockerError.__init__(self, 504, f"{what} timed out after {seconds:g}s")
        self.what = what
        self.seconds = seconds


@dataclass(frozen=True)
class DeadlineMiss:
    """The last engine call that ran out of time (for ``/healthz``)."""

    what: str
    seconds: float
    at: float  # wall clock, for display


class EngineClient:
    """The agent's one connection to the Docker Engine."""

    def __init__(self, host: str | None = None, *, request_timeout: float = 30) -> None:
        self.host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        self.request_timeout = request_timeout
        self.status = EngineStatus()
        self.unreachable_count = 0
        self.timeouts = 0
        self.last_timeout: DeadlineMiss | None = None
        self.info: Mapping[str, Any] = {}
        # The daemon's clock minus ours (seconds), measured at each ping from /info's
        # SystemTime (see ``measured_offset``); ``to_engine`` applies it.
        self.clock_offset: float | None = None
        self._docker: aiodocker.Docker | None = None
        self.identity: EngineIdentity | None = None  # from the last answered ping

    @property
    def kind(self) -> EngineKind:
        """Which engine answers (Docker or Podman), as of the last answered ping."""
        return self.identity.kind if self.identity is not None else EngineKind.UNKNOWN

    @property
    def docker(self) -> aiodocker.Docker:
        """The underlying aiodocker client, created on first use.

        Its session has the request timeout as a total limit too, so even a direct call
        ends; aiodocker lifts it for the streams it knows to be long (events, logs, stats).
        """
        if self._docker is None:
            self._docker = Docker(
                url=self.host,
                timeout=aiohttp.ClientTimeout(
                    total=self.request_timeout, sock_connect=self.request_timeout
                ),
            )
        return self._docker

    async def call(self, what: str, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        """Await one engine call with a deadline; ``EngineTimeout`` names ``what`` when missed."""
        seconds = self.request_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(seconds):
                answer = await awaitable
        except TimeoutError:
            self.timeouts += 1
            self.last_timeout = DeadlineMiss(what, seconds, time.time())
            log.warning("engine call timed out", call=what, seconds=seconds)
            raise EngineTimeout(what, seconds) from None
        if not self.status.reachable and self.identity is not None:
            self.answered_again(what)
        return answer

    def answered_again(self, what: str) -> None:
        """An engine marked unreachable (a stalled ping) answered a call: it is back, with
        the identity it had (a restart ends the event stream, and the reconnect pings)."""
        self.status.reachable = True
        self.status.since = time.time()
        self.status.error = None
        log.info("docker reachable again", host=self.host, call=what)

    async def ping(self) -> bool:
        """Ask the engine who it is; update the status; return whether it answered."""
        try:
            asked = time.time()
            info = await self.call("system info", self.docker.system.info())
            answered = time.time()
            version = await self.call("version", self.docker.version())
        except (aiodocker.DockerError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.mark_unreachable(exc)
            return False
        self.info = info
        daemon_now = engine_time(info.get("SystemTime"))
        if daemon_now is not None:
            self.clock_offset = measured_offset(daemon_now, asked, answered)
        self.mark_reachable(info, version)
        return True

    def to_engine(self, local: float) -> float:
        """A wall time of the agent's on the daemon's clock, to compare with the times the
        engine stamps on its events (a tcp:// daemon's clock may be off from ours)."""
        return local + (self.clock_offset or 0.0)

    def mark_reachable(self, info: Mapping[str, Any], version: Mapping[str, Any]) -> None:
        """Record a successful contact."""
        if not self.status.reachable:
            self.status.since = time.time()
            log.info("docker reachable", host=self.host, version=version.get("Version"))
        self.status.reachable = True
        self.status.error = None
        self.status.daemon_id = info.get("ID")
        self.status.version = version.get("Version")
        self.status.api_version = version.get("ApiVersion")
        self.identity = identify(info, version)

    def mark_unreachable(self, exc: BaseException | str) -> None:
        """Record a failed contact."""
        message = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
        if self.status.reachable or self.status.since == 0.0:
            self.status.since = time.time()
            self.unreachable_count += 1
            log.warning("docker unreachable", host=self.host, error=message)
        self.status.reachable = False
        self.status.error = message

    async def list_project_containers(self) -> list[dict[str, Any]]:
        """Every container (running or not) that belongs to a Compose project."""
        containers = await self.call(
            "list containers",
            self.docker.containers.list(all=True, filters={"label": [COMPOSE_PROJECT]}),
        )
        return [c._container for c in containers]

    async def inspect_container(self, container_id: str) -> dict[str, Any] | None:
        """The engine's full view of one container, or None when it no longer exists."""
        try:
            container = await self.call(
                f"inspect container {container_id[:12]}", self.docker.containers.get(container_id)
            )
        except aiodocker.DockerError as exc:
            if exc.status == 404:
                return None
            raise
        data: dict[str, Any] = container._container
        return data

    async def image_present(self, reference: str) -> bool | None:
        """Whether the engine holds image ``reference``; None when it could not tell."""
        try:
            await self.call(f"inspect image {reference}", self.docker.images.inspect(reference))
        except aiodocker.DockerError as exc:
            return False if exc.status == 404 else None
        except (aiohttp.ClientError, OSError):
            return None
        return True

    async def network_exists(self, name: str) -> bool:
        """Whether network ``name`` exists; raises when the engine cannot tell."""
        try:
            await self.call(f"inspect network {name}", self.docker.networks.get(name))
        except aiodocker.DockerError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def create_network(self, config: Mapping[str, Any]) -> None:
        """Create a network from an Engine API config (``{"Name": ...}``)."""
        name = str(config.get("Name", ""))
        await self.call(f"create network {name}", self.docker.networks.create(dict(config)))

    async def container_logs(
        self, container_id: str, tail: int, *, timeout: float | None = None
    ) -> list[str]:
        """The last ``tail`` lines a container printed (stdout and stderr)."""

        async def read() -> list[str]:
            container = await self.docker.containers.get(container_id)
            lines: Any = await container.log(stdout=True, stderr=True, tail=tail)
            return [str(line) for line in lines]

        return await self.call(f"logs of {container_id[:12]}", read(), timeout)

    async def container_stats(self, container_id: str, *, one_shot: bool) -> Any:
        """One stats reading of a container (the raw Engine API answer)."""

        async def read() -> Any:
            if one_shot:
                return await json_answer(self.docker, f"containers/{container_id}/stats",
                                         params={"stream": "0", "one-shot": "1"})
            frames = await self.docker.containers.container(container_id).stats(stream=False)
            return frames[-1] if frames else None

        return await self.call(f"stats of {container_id[:12]}", read())

    async def version(self) -> Mapping[str, Any]:
        """The engine's ``/version`` answer."""
        answer: Mapping[str, Any] = await self.call("version", self.docker.version())
        return answer

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._docker is not None:
            await self._docker.close()
            self._docker = None


def measured_offset(daemon_now: float, asked: float, answered: float) -> float:
    """The daemon's clock minus ours, from its time read between our ``asked`` and
    ``answered``: 0 when it falls inside that span (no skew can be told; a local daemon
    shares our clock), else the offset from the span's middle."""
    if asked <= daemon_now <= answered:
        return 0.0
    return daemon_now - (asked + answered) / 2


def engine_time(value: object) -> float | None:
    """Seconds since the epoch from the engine's RFC 3339 time (nanoseconds allowed)."""
    if not isinstance(value, str) or not value:
        return None
    head, _, rest = value.partition(".")
    fraction, zone = "", rest
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, zone = rest[:digits], rest[digits:]
    else:
        for sign in ("Z", "+", "-"):
            index = head.find(sign, 10)
            if index > 0:
                head, zone = head[:index], head[index:]
                break
    try:
        base = datetime.fromisoformat(head + (zone.replace("Z", "+00:00") or "+00:00"))
    except ValueError:
        return None
    return base.timestamp() + (float("0." + fraction) if fraction else 0.0)
