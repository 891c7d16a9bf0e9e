"""The notifier: takes events, keeps the outbox, runs the channel workers."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import structlog

from stackmedic.notify.channels.base import Channel
from stackmedic.notify.config import NotifyConfig
from stackmedic.notify.errors import UnknownChannelError
from stackmedic.notify.intake import Intake
from stackmedic.notify.models import DeliveryResult, MessageEvent, NotificationEvent
from stackmedic.notify.noise import ProblemState
from stackmedic.notify.outbox import Delivery, Outbox, StoredNotification
from stackmedic.notify.problems import ProblemStore
from stackmedic.notify.registry import ChannelRegistry
from stackmedic.notify.render import RenderContext, render
from stackmedic.notify.sender import ChannelWorker, RetryPolicy
from stackmedic.notify.silences import SilenceStore
from stackmedic.notify.types import Clock, NotificationKind, RecordEvent
from stackmedic.notify.views import notification_view, outbox_counts, recent_notifications
from stackmedic.redact import Redactor
from stackmedic.store.db import Database
from stackmedic.types import EventKind, Severity


class Notifier:
    """Turns events into notifications, delivered at least once to their channels.

    ``submit`` only writes to the outbox; per-channel workers started by ``start`` send.
    ``channels`` may hand in ready channel objects for configured names (embedding, tests);
    the others are built by ``registry`` (default: built-ins plus entry-point plugins).
    """

    def __init__(
        self,
        config: NotifyConfig,
        db: Database,
        *,
        record_event: RecordEvent | None = None,
        clock: Clock = time.time,
        monotonic: Callable[[], float] | None = time.monotonic,
        registry: ChannelRegistry | None = None,
        channels: dict[str, Channel] | None = None,
        sweep_interval: float = 15.0,
    ) -> None:
        self.config = config
        self._clock = clock
        self._record_event = record_event
        self._sweep_interval = sweep_interval
        self._log = structlog.get_logger(__name__)
        registry = registry or ChannelRegistry.with_builtins()
        self._channels: dict[str, Channel] = dict(channels or {})
        unknown = sorted(set(self._channels) - set(config.channels))
        if unknown:
            raise ValueError(f"channels {unknown} are not in the notifications config")
        for name, settings in config.channels.items():
            if name not in self._channels:
                self._channels[name] = registry.build(name, settings)
        self._redact = Redactor(s for ch in self._channels.values() for s in ch.secrets())
        self._context = RenderContext(
            host=config.host_name(), public_url=config.public_url
        )
        self._db = db
        # A cluster channel delivers through its members, one outbox delivery and worker each.
        self._members = {name: ch.members() for name, ch in self._channels.items()}
        self._outbox = Outbox(db, {name: list(m) for name, m in self._members.items()})
        self._problems = ProblemStore(db)
        self._silences = SilenceStore(db, clock)
        self._intake = Intake(
            config, db, self._outbox, self._problems, self._silences, self._channels
        )
        policy = RetryPolicy(
            config.retry_initial_seconds, config.retry_max_seconds, config.dead_after_seconds
        )
        self._workers = {
            name: ChannelWorker(
                channel, self._outbox, policy, clock, self._render, self._dead, self._redact,
                monotonic=monotonic,
            )
            for members in self._members.values()
            for name, channel in members.items()
        }
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Resume the outbox (interrupted sends are retried), open channels, start workers."""
        if self._tasks:
            return
        self._stopping.clear()
        resumed = self._outbox.reset_interrupted(self._clock())
        for gone in self._outbox.open_channels():
            if gone not in self._workers:
                for delivery in self._outbox.open_deliveries(gone):
                    error = f"channel {gone!r} is no longer configured"
                    self._outbox.mark_dead(delivery.id, error)
                    self._dead(delivery, error)
        for channel in self._channels.values():
            await channel.open()
        self.sweep()
        for name, worker in self._workers.items():
            task = asyncio.create_task(worker.run(self._stopping), name=f"notify:{name}")
            self._tasks.append(task)
        self._tasks.append(asyncio.create_task(self._sweep_loop(), name="notify:sweep"))
        self._log.info("notifier started", channels=sorted(self._channels), resumed=resumed)

    async def close(self, grace: float = 5.0) -> None:
        """Let in-flight sends finish for up to ``grace`` seconds, then cancel the rest."""
        self._stopping.set()
        for worker in self._workers.values():
            worker.wake.set()
        tasks, self._tasks = self._tasks, []
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for channel in self._channels.values():
            with contextlib.suppress(Exception):
                await channel.aclose()
        self._log.info("notifier closed")

    async def submit(self, event: NotificationEvent) -> None:
        """Route, silence, de-duplicate and group an event, then write it to the outbox."""
        outcome = self._intake.accept(event, self._clock())
        self._wake(outcome.channels)

    async def submit_summary(
        self, summary: NotificationEvent, members: list[NotificationEvent]
    ) -> None:
        """Queue a summary with ``members`` (their noise control applied) as one notification."""
        outcome = self._intake.accept_summary(summary, members, self._clock())
        self._wake(outcome.channels)

    def release_news(self, deployment: str) -> None:
        """The deployment's recovery ended: news kept open for a next notice goes out a
        group window from now at the latest."""
        now = self._clock()
        due = now + self.config.group_window_for(deployment)
        for name in self._outbox.release(deployment, due):
            worker = self._workers.get(name)
            if worker is not None:
                worker.wake.set()

    def _wake(self, channels: Iterable[str]) -> None:
        """Wake the workers of ``channels`` (every member's, for a cluster channel)."""
        for name in self._outbox.deliveries_for(list(channels)):
            self._workers[name].wake.set()

    def open_problems(self, kind: NotificationKind | None = None) -> list[ProblemState]:
        """The problems firing now (of one problem kind when given)."""
        return [
            p for p in self._problems.all()
            if p.status == "firing" and (kind is None or p.last_event.kind == kind)
        ]

    def sweep(self) -> int:
        """Queue reminders and what ended silences or flapping revealed; prune old history.

        Runs every ``sweep_interval`` seconds while started; returns how many were queued.
        """
        now = self._clock()
        outcomes = self._intake.sweep(now)
        for outcome in outcomes:
            self._wake(outcome.channels)
        cutoff = now - self.config.history_days * 86400
        self._outbox.prune(cutoff)
        self._silences.prune(cutoff)
        return sum(1 for o in outcomes if o.queued)

    async def _sweep_loop(self) -> None:
        """Run ``sweep`` periodically until closed."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._sweep_interval):
                    await self._stopping.wait()
            if not self._stopping.is_set():
                try:
                    self.sweep()
                except Exception:
                    self._log.exception("notification sweep failed")

    def _render(self, notification_id: int) -> Any:
        """Render a stored notification for sending (None when it is gone)."""
        stored = self._outbox.load(notification_id)
        if stored is None or not stored.events:
            return None
        return render(stored, self._context)

    def _dead(self, delivery: Delivery, error: str) -> None:
        """Report a delivery given up on in the agent event log."""
        stored = self._outbox.load(delivery.notification_id)
        deployment = stored.deployment if stored else None
        message = (
            f"notification {delivery.notification_id} to channel {delivery.channel!r} "
            f"given up after {delivery.attempts} attempt(s): {error}"
        )
        if self._record_event is None:
            return
        try:
            self._record_event(
                EventKind.NOTIFICATION_DEAD,
                message,
                deployment=deployment,
                severity=Severity.WARNING,
                data={
                    "notification_id": delivery.notification_id,
                    "channel": delivery.channel,
                    "attempts": delivery.attempts,
                    "error": error,
                },
            )
        except Exception:
            self._log.exception("could not record the agent event")

    async def send_test(self, channel: str | None = None) -> list[DeliveryResult]:
        """Send a test message now (not through the outbox) to one channel or every channel."""
        if channel is not None and channel not in self._channels:
            raise UnknownChannelError(channel, list(self._channels))
        names = [channel] if channel is not None else list(self._channels)
        now = self._clock()
        event = NotificationEvent(
            kind=NotificationKind.TEST,
            severity=Severity.INFO,
            title=f"test notification from stackmedic on {self._context.host}",
            summary="If you can read this, the channel works.",
            occurred_at=datetime.fromtimestamp(now, UTC),
        )
        stored = StoredNotification(
            id=0,
            idempotency_key=f"test-{uuid.uuid4().hex}",
            deployment=None,
            severity=Severity.INFO,
            created_at=now,
            window_ends_at=now,
            events=(
                MessageEvent(
                    event=event, alert_severity=Severity.INFO,
                    alert_started_at=event.occurred_at,
                ),
            ),
        )
        message = render(stored, self._context)
        return list(await asyncio.gather(*(self._try(name, message) for name in names)))

    async def _try(self, name: str, message: Any) -> DeliveryResult:
        """Send one message to one channel and report the outcome."""
        channel = self._channels[name]
        started = time.monotonic()
        error = None
        try:
            await channel.send(message)
        except Exception as exc:
            error = self._redact(f"{type(exc).__name__}: {exc}")
        duration = round(time.monotonic() - started, 3)
        self._log.info("test notification", channel=name, ok=error is None, error=error)
        return DeliveryResult(
            channel=name,
            kind=channel.kind,
            ok=error is None,
            error=error,
            duration_seconds=duration,
        )

    def list_notifications(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Return recent notifications, newest first, with delivery status per channel."""
        limit = max(1, min(limit, 500))
        now = self._clock()
        return [
            notification_view(stored, deliveries, self._context, now)
            for stored, deliveries in recent_notifications(
                self._db, self._outbox, limit, max(0, offset)
            )
        ]

    def outbox_state(self) -> dict[str, Any]:
        """Return delivery counts per status and channel, firing problems and silences."""
        state = outbox_counts(self._db)
        state["running"] = bool(self._tasks) and not self._stopping.is_set()
        state["firing_problems"] = self._problems.firing()
        state["active_silences"] = len(self._silences.list())
        return state

    def add_silence(self, deployment: str, until: datetime, reason: str = "") -> dict[str, Any]:
        """Silence a deployment (``*``: all) until ``until``; return the silence."""
        silence = self._silences.add(deployment, until, reason)
        self._log.info("silence added", deployment=deployment, until=silence["ends_at"])
        return silence

    def list_silences(self, *, include_expired: bool = False) -> list[dict[str, Any]]:
        """Return active and upcoming silences (all when ``include_expired``)."""
        return self._silences.list(include_expired=include_expired)

    def remove_silence(self, silence_id: int) -> bool:
        """End a silence now; what it held back is sent by the next sweep."""
        removed = self._silences.remove(silence_id)
        if removed:
            self._log.info("silence removed", silence_id=silence_id)
            self.sweep()
        return removed

    def describe_channels(self) -> list[dict[str, Any]]:
        """Return each channel's name, kind and settings with secrets masked."""
        return [channel.describe() for channel in self._channels.values()]
