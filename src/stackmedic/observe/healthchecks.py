"""Runs Podman's healthchecks where no systemd timer runs them.

Podman does not run healthchecks itself: each container gets a transient systemd timer
that calls ``podman healthcheck run``. Without systemd (a container image, a minimal VM,
a host booted with another init) the health stays ``starting`` for ever and a failing
check is never seen. So for each running container that declares a healthcheck the
runner waits for a first result from the timer (two intervals after the start, or
after the start period when longer); when none came, it says so once and from then on
runs the checks itself through the libpod API at each container's interval. Podman
records the result as its timer would have, so inspect, the ``health_status`` event and
the verdicts follow unchanged. It looks only while the engine is Podman and the event
stream is connected (as the engine session tells on the bus).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiodocker
import aiohttp
import structlog

from stackmedic.engine.client import EngineClient, engine_time
from stackmedic.engine.identity import EngineKind
from stackmedic.observe.containers import ContainerState
from stackmedic.types import EventKind, Severity

if TYPE_CHECKING:
    from stackmedic.observe.events import EngineConnected, EngineLost
    from stackmedic.store.events import EventLog

log = structlog.get_logger(__name__)

LIBPOD_API = "v4.0.0"
DEFAULT_INTERVAL = 30.0  # Podman's and Docker's default
NANOSECONDS = 1e9


@dataclass
class _Check:
    started_at: float
    interval: float
    first_due: float
    next_due: float


class HealthcheckRunner:
    """Decides whether Podman's healthcheck timers run and runs the checks when they don't."""

    def __init__(self, client: EngineClient,
                 containers: Callable[[], list[ContainerState]],
                 events: EventLog | None = None) -> None:
        self._client = client
        self._containers = containers
        self._events = events
        self._connected = False
        self._checks: dict[str, _Check] = {}
        self.timers_missing: bool | None = None  # None: not known yet
        self.checks_run = 0
        self.failures = 0
        self.reason: str | None = None

    @property
    def running_checks(self) -> bool:
        """Whether stackmedic runs the healthchecks itself."""
        return bool(self.timers_missing)

    async def on_engine_connected(self, event: EngineConnected) -> None:
        """The stream is connected: the observed containers are current."""
        self._connected = True

    async def on_engine_lost(self, event: EngineLost) -> None:
        """The stream ended: nothing to check until it is back."""
        self._connected = False

    async def tick(self, now: float | None = None) -> None:
        """Run every check that is due; call about once a second."""
        now = time.time() if now is None else now
        watching = self._connected and self._client.kind is EngineKind.PODMAN
        live = {c.id: c for c in (self._containers() if watching else [])
                if c.running and c.health != "none" and c.started_at is not None}
        for gone in set(self._checks) - set(live):
            del self._checks[gone]
        for container in live.values():
            check = self._checks.get(container.id)
            if check is None or check.started_at != container.started_at:
                check = await self._learn(container)
                if check is None:
                    continue
                self._checks[container.id] = check
            if now >= check.next_due:
                await self._due(container, check, now)

    async def _learn(self, container: ContainerState) -> _Check | None:
        data = await self._inspect(container.id)
        if data is None:
            return None
        spec = (data.get("Config") or {}).get("Healthcheck") or {}
        interval = (spec.get("Interval") or 0) / NANOSECONDS or DEFAULT_INTERVAL
        start_period = (spec.get("StartPeriod") or 0) / NANOSECONDS
        assert container.started_at is not None
        first = container.started_at + max(2 * interval, start_period) + 1.0
        return _Check(container.started_at, interval, first, first)

    async def _due(self, container: ContainerState, check: _Check, now: float) -> None:
        if self.timers_missing is None:
            data = await self._inspect(container.id)
            if data is None:
                return
            if _last_check(data) is not None:
                self.timers_missing = False
                self.reason = "Podman's healthcheck timers run the checks"
                log.info("podman healthcheck timers are running", container=container.name)
                self._decided(missing=False)
                return
            self.timers_missing = True
            self.reason = (
                f"no healthcheck result for {container.name} {now - check.started_at:.0f}s "
                "after its start: no systemd timer runs Podman's healthchecks here, so "
                "stackmedic runs them through the libpod API at each container's interval")
            log.warning("podman healthchecks not run by systemd; stackmedic runs them",
                        container=container.name)
            self._decided(missing=True)
        if not self.timers_missing:
            return
        check.next_due = now + check.interval
        await self._run(container)

    def _decided(self, *, missing: bool) -> None:
        """Say once in the event log who runs the checks; a store failure is only logged."""
        if self._events is None or self.reason is None:
            return
        kind = (EventKind.HEALTHCHECKS_RUN_BY_STACKMEDIC if missing
                else EventKind.HEALTHCHECKS_RUN_BY_PODMAN)
        try:
            self._events.record(kind, self.reason,
                                severity=Severity.WARNING if missing else Severity.INFO)
        except (sqlite3.Error, OSError) as exc:
            log.error("event log write failed", kind=kind, error=str(exc))

    async def _run(self, container: ContainerState) -> None:
        try:
            await self._client.call(
                f"healthcheck of {container.name}",
                self._client.docker._query_json(
                    f"{LIBPOD_API}/libpod/containers/{container.id}/healthcheck",
                    method="GET", versioned_api=False),
            )
            self.checks_run += 1
        except (aiodocker.DockerError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.failures += 1
            log.info("healthcheck run failed", container=container.name, error=str(exc))

    async def _inspect(self, container_id: str) -> dict[str, Any] | None:
        try:
            return await self._client.inspect_container(container_id)
        except (aiodocker.DockerError, aiohttp.ClientError, OSError, TimeoutError):
            return None


def _last_check(data: dict[str, Any]) -> float | None:
    """When the container's last healthcheck ended, from its health log."""
    log_entries = (((data.get("State") or {}).get("Health") or {}).get("Log")) or []
    ends = [engine_time(entry.get("End")) for entry in log_entries if isinstance(entry, dict)]
    known = [end for end in ends if end is not None]
    return max(known) if known else None
