"""The internal bus: typed delivery, order, isolation of failing subscribers."""

from __future__ import annotations

from dataclasses import dataclass

from stackmedic.bus import Bus


@dataclass
class Ping:
    n: int


@dataclass
class Pong:
    n: int


async def test_subscribers_get_only_their_type_in_order_and_survive_failures() -> None:
    bus = Bus()
    pings: list[int] = []
    everything: list[object] = []

    async def on_ping(event: Ping) -> None:
        pings.append(event.n)

    async def broken(event: Ping) -> None:
        raise RuntimeError("boom")

    async def on_any(event: object) -> None:
        everything.append(event)

    bus.subscribe(Ping, broken)
    sub = bus.subscribe(Ping, on_ping)
    bus.subscribe(object, on_any)
    assert await bus.publish(Ping(1)) == 2
    assert await bus.publish(Pong(2)) == 1
    await bus.publish(Ping(3))
    assert pings == [1, 3]
    assert everything == [Ping(1), Pong(2), Ping(3)]
    bus.unsubscribe(sub)
    await bus.publish(Ping(4))
    assert pings == [1, 3]
    assert bus.subscribers(Ping) == 2
