"""Delivery workers: one per channel, sending due outbox deliveries with backoff."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from stackmedic.notify.channels.base import Channel
from stackmedic.notify.errors import DeliveryError
from stackmedic.notify.models import RenderedMessage
from stackmedic.notify.outbox import Delivery, Outbox
from stackmedic.notify.types import Clock
from stackmedic.supervise.backoff import exponential


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff from ``initial`` to ``maximum``; give up ``dead_after`` past due."""

    initial: float
    maximum: float
    dead_after: float

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the given number of consecutive failures (at least 1)."""
        delay = exponential(max(failures, 1), self.initial, self.maximum)
        if retry_after is not None:
            delay = min(max(delay, retry_after), self.maximum)
        return delay


CLOCK_STEP_SECONDS = 1.0  # a jump of the wall clock against the monotonic one this large

Renderer = Callable[[int], RenderedMessage | None]
DeadHandler = Callable[[Delivery, str], None]


class ChannelWorker:
    """Sends one channel's deliveries in due order, one at a time.

    A failure holds back every delivery of the channel until the next attempt, so a
    channel that is down is probed once per backoff step, not once per notification.
    """

    def __init__(
        self,
        channel: Channel,
        outbox: Outbox,
        policy: RetryPolicy,
        clock: Clock,
        render: Renderer,
        on_dead: DeadHandler,
        redact: Callable[[str], str],
        *,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        """``monotonic`` lets the worker see wall-clock steps (None: due times stay put)."""
        self.channel = channel
        self.wake = asyncio.Event()
        self._outbox = outbox
        self._policy = policy
        self._clock = clock
        self._render = render
        self._on_dead = on_dead
        self._redact = redact
        self._failures = 0
        self._monotonic = monotonic
        self._offset: float | None = None  # wall minus monotonic, as last seen
        self._log = structlog.get_logger(__name__).bind(channel=channel.name)

    async def run(self, stopping: asyncio.Event) -> None:
        """Deliver until ``stopping`` is set; sleep until the next due delivery or a wake."""
        name = self.channel.name
        while not stopping.is_set():
            self.wake.clear()
            try:
                self._follow_clock_steps()
                delivery = self._outbox.claim_next(name, self._clock())
                if delivery is not None:
                    await self.attempt(delivery)
                    continue
                due = self._outbox.next_due(name)
            except Exception:
                # The store failed (disk full, locked): keep the worker alive and retry.
                self._log.exception("outbox unavailable")
                due = self._clock() + self._policy.initial
            timeout = None if due is None else max(0.0, due - self._clock())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self.wake.wait()

    @property
    def clock_offset(self) -> float | None:
        """Wall minus monotonic time as the worker last saw it (None before it ran)."""
        return self._offset

    def _follow_clock_steps(self) -> None:
        """Move this channel's due times with a wall-clock step (NTP setting the time): the
        outbox keeps wall times, as they must outlive the process, but a delivery is to wait
        what it was meant to wait, neither an hour more nor an hour less."""
        if self._monotonic is None:
            return
        offset = self._clock() - self._monotonic()
        previous, self._offset = self._offset, offset
        if previous is None or abs(offset - previous) < CLOCK_STEP_SECONDS:
            return
        moved = self._outbox.shift_due(self.channel.name, offset - previous)
        self._log.warning("wall clock stepped; due deliveries moved with it",
                          seconds=round(offset - previous, 1), deliveries=moved)

    async def attempt(self, delivery: Delivery) -> None:
        """Try one delivery and record the outcome."""
        try:
            message = self._render(delivery.notification_id)
        except Exception as exc:
            self._give_up(delivery, f"cannot render notification: {type(exc).__name__}")
            return
        if message is None:
            self._give_up(delivery, "notification no longer stored")
            return
        try:
            await self.channel.send(message)
        except asyncio.CancelledError:
            self._outbox.mark_retry(delivery, self._clock(), "interrupted by shutdown")
            raise
        except DeliveryError as exc:
            self._failed(delivery, self._redact(str(exc)), exc.permanent, exc.retry_after)
            return
        except Exception as exc:
            error = self._redact(f"{type(exc).__name__}: {exc}")
            self._log.error("channel raised an unexpected error", error=error)
            self._failed(delivery, error, False, None)
            return
        self._failures = 0
        self._outbox.mark_sent(delivery.id, self._clock())
        self._log.info(
            "notification delivered",
            notification_id=delivery.notification_id,
            attempts=delivery.attempts,
        )

    def _failed(
        self, delivery: Delivery, error: str, permanent: bool, retry_after: float | None
    ) -> None:
        """Schedule a retry, or give up when the error is final or the delivery too old."""
        now = self._clock()
        deadline = delivery.first_due_at + self._policy.dead_after
        if permanent:
            # The receiver refused this message; that says nothing about the channel.
            self._give_up(delivery, error)
            return
        self._failures += 1
        if now >= deadline:
            self._give_up(delivery, error)
            return
        failures = max(self._failures, delivery.attempts)
        next_at = min(now + self._policy.delay(failures, retry_after), deadline)
        self._outbox.mark_retry(delivery, next_at, error)
        self._log.warning(
            "notification delivery failed",
            notification_id=delivery.notification_id,
            attempts=delivery.attempts,
            error=error,
            retry_in=round(next_at - now, 3),
        )

    def _give_up(self, delivery: Delivery, error: str) -> None:
        """Mark a delivery dead and report it."""
        self._outbox.mark_dead(delivery.id, error)
        self._log.error(
            "notification delivery given up",
            notification_id=delivery.notification_id,
            attempts=delivery.attempts,
            error=error,
        )
        self._on_dead(delivery, error)
