"""Subscribes to the bus and hands notification events to the notifier."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog

from stackmedic.alerts.messages import from_health, from_recovery, from_spike
from stackmedic.bus import Bus
from stackmedic.health.model import HealthTransition
from stackmedic.notify.models import NotificationEvent
from stackmedic.notify.service import Notifier
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.events import RecoveryEvent
from stackmedic.resources import SpikeAlert

log = structlog.get_logger(__name__)

DOCKER_FINGERPRINT = "agent-problem:docker"


class NotificationBridge:
    """Feeds health transitions, recovery events and agent problems to the notifier."""

    def __init__(self, notifier: Notifier, bus: Bus, recovery: RecoveryConfig, *,
                 docker_alert_after: float = 30.0) -> None:
        self._notifier = notifier
        self._bus = bus
        self._recovery = recovery
        self._docker_alert_after = docker_alert_after
        self._docker_timer: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Subscribe to the bus."""
        self._bus.subscribe(HealthTransition, self.on_health, name="notify-health")
        self._bus.subscribe(RecoveryEvent, self.on_recovery, name="notify-recovery")

    async def submit(self, event: NotificationEvent) -> None:
        """Hand one event to the notifier; a notifier problem never breaks the caller."""
        try:
            await self._notifier.submit(event)
        except Exception:
            log.exception("notification not queued", kind=event.kind)

    async def on_health(self, transition: HealthTransition) -> None:
        """Ill-health and recovered notices."""
        note = None
        if self._recovery.enabled:
            note = (f"stackmedic will diagnose and try to recover it after "
                    f"{self._recovery.settle_seconds:g}s unless it heals by itself")
        event = from_health(transition, recovery_note=note)
        if event is not None:
            await self.submit(event)

    async def on_recovery(self, event: RecoveryEvent) -> None:
        """Recovery started / succeeded / gave up, and restart summaries."""
        notification = from_recovery(event)
        if notification is not None:
            await self.submit(notification)

    async def deployment_removed(self, name: str) -> None:
        """A deployment is gone: close its open problem rather than remind about it forever."""
        await self.submit(NotificationEvent(
            kind="recovered", severity="info", deployment=name,
            title=f"{name} was removed",
            summary=f"Deployment {name} is no longer found, so stackmedic stops alerting on it.",
            fingerprint=f"ill-health:{name}",
        ))

    async def on_spike(self, alert: SpikeAlert) -> None:
        """Resource spikes firing and resolving."""
        notification = from_spike(alert)
        if notification is not None:
            await self.submit(notification)

    def docker_lost(self, host: str) -> None:
        """Docker stopped answering: alert if it stays away for a while."""
        if self._docker_timer is None or self._docker_timer.done():
            self._docker_timer = asyncio.create_task(self._alert_docker(host))

    async def _alert_docker(self, host: str) -> None:
        await asyncio.sleep(self._docker_alert_after)
        await self.submit(NotificationEvent(
            kind="agent-problem", severity="critical",
            title=f"Docker is unreachable at {host}",
            summary=(f"stackmedic lost the Docker Engine at {host} more than "
                     f"{self._docker_alert_after:g}s ago; deployments cannot be watched or "
                     "recovered until it answers again."),
            fingerprint=DOCKER_FINGERPRINT,
        ))

    async def docker_back(self, host: str) -> None:
        """Docker answers again: cancel a pending alert, resolve a sent one."""
        if self._docker_timer is not None and not self._docker_timer.done():
            self._docker_timer.cancel()
            self._docker_timer = None
            return
        self._docker_timer = None
        await self.submit(NotificationEvent(
            kind="agent-problem-resolved", severity="info",
            title=f"Docker is reachable again at {host}",
            summary="stackmedic is connected to the Docker Engine again.",
            occurred_at=datetime.now(UTC), fingerprint=DOCKER_FINGERPRINT,
        ))

    async def close(self) -> None:
        """Cancel a pending Docker alert."""
        if self._docker_timer is not None:
            self._docker_timer.cancel()
            await asyncio.gather(self._docker_timer, return_exceptions=True)
