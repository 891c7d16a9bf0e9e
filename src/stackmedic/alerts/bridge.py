"""Subscribes to the bus and hands notification events to the notifier.

From the engine session it hears when Docker is back (``EngineReached``), when what the
connection set off has begun (``ConnectionSettled``: held notices are released unless a
restart reconcile began, whose summary tells them) and when it is lost (``EngineLost``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from stackmedic.alerts.episodes import Episodes, Outgoing, ReleaseNews, ResolveLater, Submit
from stackmedic.alerts.spike_notice import from_spike
from stackmedic.bus import Bus
from stackmedic.health.model import DeploymentHealth, HealthTransition
from stackmedic.notify.models import NotificationEvent
from stackmedic.notify.service import Notifier
from stackmedic.notify.types import NotificationKind
from stackmedic.observe.events import ConnectionSettled, EngineLost, EngineReached
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.events import RecoveryEvent, RestartReconcileStarted
from stackmedic.resources import SpikeAlert
from stackmedic.types import EventKind, Severity

log = structlog.get_logger(__name__)

DOCKER_FINGERPRINT = "agent-problem:docker"


class NotificationBridge:
    """Feeds health transitions, recovery events and agent problems to the notifier."""

    def __init__(self, notifier: Notifier, bus: Bus, recovery: RecoveryConfig, *,
                 docker_alert_after: float = 30.0, release_after: float = 2.0,
                 fold_timeout: float = 900.0, settle_timeout: float = 60.0,
                 verdict_of: Callable[[str], DeploymentHealth | None] | None = None,
                 resume_settle: float = 0.0) -> None:
        self._notifier = notifier
        self._verdict_of = verdict_of
        self._bus = bus
        self._recovery = recovery
        self._docker_alert_after = docker_alert_after
        self._docker_timer: asyncio.Task[None] | None = None
        self._release_after = release_after
        self._fold_timeout = fold_timeout
        self._settle_timeout = settle_timeout
        self._release_timer: asyncio.Task[None] | None = None
        self._settle_timers: dict[str, asyncio.Task[None]] = {}  # resolutions waiting to hold
        note = None
        if recovery.enabled:
            note = (f"stackmedic will diagnose and try to recover it after "
                    f"{recovery.settle_seconds:g}s unless it heals by itself")
        self.episodes = Episodes(recovery_note=note, resume_settle=resume_settle)
        # Until the first connection tells whether the host or daemon restarted, hold.
        self.episodes.stream_lost()

    def start(self) -> None:
        """Resume the episodes of the problems still open, and subscribe to the bus."""
        for problem in self._notifier.open_problems(kind=NotificationKind.ILL_HEALTH):
            if problem.deployment is not None:
                self.episodes.resume(problem.deployment, problem.started_at,
                                     problem.severity, problem.last_event)
        self._bus.subscribe(HealthTransition, self.on_health, name="notify-health")
        self._bus.subscribe(RecoveryEvent, self.on_recovery, name="notify-recovery")
        self._bus.subscribe(RestartReconcileStarted, self.on_reconcile, name="notify-reconcile")

    async def submit(self, event: NotificationEvent) -> None:
        """Hand one event to the notifier; a notifier problem never breaks the caller."""
        try:
            await self._notifier.submit(event)
        except Exception:
            log.exception("notification not queued", kind=event.kind)

    async def _send(self, outgoing: list[Outgoing]) -> None:
        for item in outgoing:
            if isinstance(item, Submit):
                await self.submit(item.event)
                continue
            if isinstance(item, ResolveLater):
                self._resolve_later(item)
                continue
            if isinstance(item, ReleaseNews):
                try:
                    self._notifier.release_news(item.deployment)
                except Exception:
                    log.exception("waiting news not released", deployment=item.deployment)
                continue
            try:
                await self._notifier.submit_summary(item.summary, list(item.members))
            except Exception:
                log.exception("notification not queued", kind=item.summary.kind)

    def _resolve_later(self, item: ResolveLater) -> None:
        earlier = self._settle_timers.pop(item.deployment, None)
        if earlier is not None:
            earlier.cancel()
        self._settle_timers[item.deployment] = asyncio.create_task(self._resolve_due(item))

    async def _resolve_due(self, item: ResolveLater) -> None:
        await asyncio.sleep(item.delay)
        self._settle_timers.pop(item.deployment, None)
        await self._send(self.episodes.resolve_due(item.deployment, item.since))

    async def on_health(self, transition: HealthTransition) -> None:
        """Open, update or end the deployment's ill episode."""
        await self._send(self.episodes.on_health(transition))

    async def on_recovery(self, event: RecoveryEvent) -> None:
        """Recovery started / succeeded / gave up, and restart summaries."""
        if event.kind == EventKind.RESTART_SUMMARY:
            self._cancel_release()
        await self._send(self.episodes.on_recovery(event))

    async def on_reconcile(self, event: RestartReconcileStarted) -> None:
        """A restart reconcile began: fold per-deployment notices into its summary.

        It begins on a connection, so the stream is back: from here the summary, not the
        stream, ends the hold.
        """
        self.episodes.reconcile_started()
        self.episodes.stream_down = False
        self._cancel_release()
        self._release_timer = asyncio.create_task(self._release_later(self._fold_timeout))

    async def _release_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._release_timer = None
        await self._send(self.episodes.give_up_holding())

    def _cancel_release(self) -> None:
        if self._release_timer is not None and self._release_timer is not asyncio.current_task():
            self._release_timer.cancel()
        self._release_timer = None

    async def deployment_removed(self, name: str) -> None:
        """A deployment is gone: close its open problem rather than remind about it forever."""
        self.episodes.removed(name)
        await self.submit(NotificationEvent(
            kind=NotificationKind.RECOVERED, severity=Severity.INFO, deployment=name,
            title=f"{name} was removed",
            summary=f"Deployment {name} is no longer found, so stackmedic stops alerting on it.",
            fingerprint=f"ill-health:{name}",
        ))

    async def on_spike(self, alert: SpikeAlert) -> None:
        """Resource spikes firing and resolving."""
        notification = from_spike(alert)
        if notification is not None:
            await self.submit(notification)

    async def on_engine_reached(self, event: EngineReached) -> None:
        """The event stream is back (see ``docker_back``)."""
        await self.docker_back(event.host)

    async def on_connection_settled(self, event: ConnectionSettled) -> None:
        """The resync and what it set off have begun (see ``connection_settled``)."""
        self.connection_settled()

    async def on_engine_lost(self, event: EngineLost) -> None:
        """The event stream ended (see ``docker_lost``)."""
        self.docker_lost(event.host)

    def docker_lost(self, host: str) -> None:
        """Docker stopped answering: hold notices, alert if it stays away for a while."""
        self.episodes.stream_lost()
        if not self.episodes.reconciling:
            self._cancel_release()
        if self._docker_timer is None or self._docker_timer.done():
            self._docker_timer = asyncio.create_task(self._alert_docker(host))

    async def _alert_docker(self, host: str) -> None:
        await asyncio.sleep(self._docker_alert_after)
        await self.submit(NotificationEvent(
            kind=NotificationKind.AGENT_PROBLEM, severity=Severity.CRITICAL,
            title=f"Docker is unreachable at {host}",
            summary=(f"stackmedic lost the Docker Engine at {host} more than "
                     f"{self._docker_alert_after:g}s ago; deployments cannot be watched or "
                     "recovered until it answers again."),
            fingerprint=DOCKER_FINGERPRINT,
        ))

    async def docker_back(self, host: str) -> None:
        """Docker answers again: cancel a pending alert, resolve a sent one, release notices.

        Held notices wait for ``connection_settled`` (at most ``settle_timeout``): the
        resync after connecting may find a host or daemon restart, whose reconcile folds
        them into its summary.
        """
        if self.episodes.reconciling:
            self.episodes.stream_down = False  # the summary releases what is held
        elif self._release_timer is None:
            self._release_timer = asyncio.create_task(self._stream_settled(self._settle_timeout))
        if self._docker_timer is not None and not self._docker_timer.done():
            self._docker_timer.cancel()
            self._docker_timer = None
            return
        self._docker_timer = None
        await self.submit(NotificationEvent(
            kind=NotificationKind.AGENT_PROBLEM_RESOLVED, severity=Severity.INFO,
            title=f"Docker is reachable again at {host}",
            summary="stackmedic is connected to the Docker Engine again.",
            occurred_at=datetime.now(UTC), fingerprint=DOCKER_FINGERPRINT,
        ))

    def connection_settled(self) -> None:
        """The resync after connecting is done: unless a reconcile began, release soon."""
        if self.episodes.reconciling or not self.episodes.stream_down:
            return
        self._cancel_release()
        self._release_timer = asyncio.create_task(self._stream_settled(self._release_after))

    async def _stream_settled(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._release_timer = None
        await self._send(self.episodes.stream_back())
        await self._end_fine_episodes()

    async def _end_fine_episodes(self) -> None:
        """End the episodes told before the agent (re)started whose deployment is fine now.

        Its resolution may have been waiting for the healthcheck to hold (``ResolveLater``)
        when the agent stopped, and no new transition comes for a verdict already stored.
        """
        if self._verdict_of is None or self.episodes.holding:
            return
        for name in sorted(set(self.episodes.open) - set(self.episodes.settling)):
            health = self._verdict_of(name)
            if health is not None and health.verdict.fine:
                await self.on_health(HealthTransition(name, None, health, time.time()))

    async def close(self) -> None:
        """Cancel a pending Docker alert and pending releases."""
        timers = [t for t in (self._docker_timer, self._release_timer) if t is not None]
        timers += self._settle_timers.values()
        self._settle_timers.clear()
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
