"""Notifier lifecycle: close lets in-flight sends finish briefly, then cancels them."""

from __future__ import annotations

import asyncio

from notify.conftest import make_event
from notify.test_outbox import FakeChannel, due_deliveries
from stackmedic.notify import Notifier, NotifyConfig, RenderedMessage
from stackmedic.store.db import Database
from support.wait import async_wait_until


class BlockingChannel(FakeChannel):
    """A channel whose send waits until the test releases it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, message: RenderedMessage) -> None:
        self.entered.set()
        await self.release.wait()
        self.sent.append(message)


async def started_with_blocking_send(db: Database) -> tuple[Notifier, BlockingChannel]:
    channel = BlockingChannel("a")
    config = NotifyConfig.model_validate(
        {"channels": {"a": {"type": "fake"}}, "group_window_seconds": 0}
    )
    notifier = Notifier(config, db, channels={"a": channel})
    await notifier.start()
    await notifier.submit(make_event())
    await asyncio.wait_for(channel.entered.wait(), 10)
    return notifier, channel


async def test_close_lets_an_in_flight_send_finish(db: Database) -> None:
    notifier, channel = await started_with_blocking_send(db)
    closing = asyncio.create_task(notifier.close(grace=30))
    await async_wait_until(lambda: not notifier.outbox_state()["running"], 10)
    assert not closing.done()
    channel.release.set()
    await asyncio.wait_for(closing, 10)
    assert due_deliveries(db)[0][0] == "sent" and len(channel.sent) == 1


async def test_close_cancels_a_send_that_overruns_the_grace(db: Database) -> None:
    notifier, channel = await started_with_blocking_send(db)
    await asyncio.wait_for(notifier.close(grace=0.05), 10)
    status, _, attempts = due_deliveries(db)[0]
    assert (status, attempts) == ("retrying", 1) and channel.sent == []
