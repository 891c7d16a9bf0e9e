"""One aiodocker client with the engine's reachability and identity tracked for the agent."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiodocker
import aiohttp
import structlog

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


class EngineUnavailable(Exception):
    """The Docker Engine did not answer."""


class EngineClient:
    """The agent's one connection to the Docker Engine."""

    def __init__(self, host: str | None = None, *, request_timeout: float = 30) -> None:
        self.host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        self.request_timeout = request_timeout
        self.status = EngineStatus()
        self.unreachable_count = 0
        self._docker: aiodocker.Docker | None = None

    @property
    def docker(self) -> aiodocker.Docker:
        """The underlying aiodocker client, created on first use."""
        if self._docker is None:
            self._docker = aiodocker.Docker(
                url=self.host,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.request_timeout),
            )
        return self._docker

    async def ping(self) -> bool:
        """Ask the engine who it is; update the status; return whether it answered."""
        try:
            info = await asyncio.wait_for(self.docker.system.info(), self.request_timeout)
            version = await asyncio.wait_for(self.docker.version(), self.request_timeout)
        except (aiodocker.DockerError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.mark_unreachable(exc)
            return False
        self.mark_reachable(info, version)
        return True

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
        containers = await asyncio.wait_for(
            self.docker.containers.list(all=True, filters={"label": [COMPOSE_PROJECT]}),
            self.request_timeout,
        )
        return [c._container for c in containers]

    async def inspect_container(self, container_id: str) -> dict[str, Any] | None:
        """The engine's full view of one container, or None when it no longer exists."""
        try:
            container = await asyncio.wait_for(
                self.docker.containers.get(container_id), self.request_timeout
            )
        except aiodocker.DockerError as exc:
            if exc.status == 404:
                return None
            raise
        data: dict[str, Any] = container._container
        return data

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._docker is not None:
            await self._docker.close()
            self._docker = None
