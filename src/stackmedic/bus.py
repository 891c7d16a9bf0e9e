"""The agent's internal bus: typed async publish/subscribe between its parts.

A subscriber names the event type it wants (a class) and gets every published event that
is an instance of it, in publish order. ``publish`` awaits each matching callback in turn,
so callbacks must be quick (write to a store, put on their own bounded queue); a callback
that raises is logged and does not stop delivery to the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)

E = TypeVar("E")

__all__ = ["Bus", "Subscription"]


@dataclass(frozen=True)
class Subscription:
    """One callback for one event type; pass it to ``Bus.unsubscribe`` to stop."""

    kind: type[Any]
    callback: Callable[[Any], Awaitable[None]]
    name: str


class Bus:
    """In-process pub/sub keyed by event type."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []

    def subscribe(
        self, kind: type[E], callback: Callable[[E], Awaitable[None]], *, name: str = ""
    ) -> Subscription:
        """Call ``await callback(event)`` for every published instance of ``kind``."""
        subscription = Subscription(kind, callback, name or getattr(callback, "__qualname__", ""))
        self._subscriptions.append(subscription)
        return subscription

    def subscribe_each(
        self, kind: type[E], *callbacks: Callable[[E], Awaitable[None]]
    ) -> list[Subscription]:
        """Subscribe several callbacks to ``kind``: they hear each event in this order."""
        return [self.subscribe(kind, callback) for callback in callbacks]

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop a subscription; unknown ones are ignored."""
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def close(self) -> None:
        """Drop every subscription: events published from now on reach nobody."""
        self._subscriptions.clear()

    def subscribers(self, kind: type[Any]) -> int:
        """How many subscriptions would receive an event of type ``kind``."""
        return sum(1 for s in self._subscriptions if issubclass(kind, s.kind))

    async def publish(self, event: object) -> int:
        """Deliver ``event`` to every matching subscriber; return how many got it."""
        delivered = 0
        for subscription in list(self._subscriptions):
            if not isinstance(event, subscription.kind):
                continue
            try:
                await subscription.callback(event)
            except Exception:
                log.exception(
                    "bus subscriber failed",
                    subscriber=subscription.name,
                    event_type=type(event).__name__,
                )
                continue
            delivered += 1
        return delivered
