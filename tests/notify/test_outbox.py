"""Outbox, grouping, silences, reminders and retries with a controlled clock."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import pytest

from notify.conftest import AgentEvents, make_event, recovered_event
from stackmedic.notify import (
    Channel,
    ChannelSettings,
    ChannelUnreachable,
    DeliveryError,
    Notifier,
    NotifyConfig,
    RenderedMessage,
)
from stackmedic.notify.outbox import Outbox
from stackmedic.notify.sender import ChannelWorker, RetryPolicy
from stackmedic.store.db import Database
from support.clock import SteppedClock
from support.wait import async_wait_until


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeSettings(ChannelSettings):
    """Settings of the in-memory channel."""

    type: Literal["fake"]


class FakeChannel(Channel):
    """Keeps what it is sent; raises the scripted errors first."""

    kind: ClassVar[str] = "fake"
    config_model: ClassVar[type[ChannelSettings]] = FakeSettings

    def __init__(self, name: str, errors: list[Exception] | None = None) -> None:
        super().__init__(name, FakeSettings(type="fake"))
        self.errors = list(errors or [])
        self.sent: list[RenderedMessage] = []

    async def send(self, message: RenderedMessage) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(message)


def make_notifier(
    db: Database, clock: Clock, names: tuple[str, ...] = ("a",), **config: Any
) -> tuple[Notifier, dict[str, FakeChannel]]:
    channels = {name: FakeChannel(name) for name in names}
    settings = NotifyConfig.model_validate(
        {"channels": {n: {"type": "fake"} for n in names}, "host": "h", **config}
    )
    return Notifier(settings, db, clock=clock, channels=dict(channels)), channels


async def test_events_within_the_window_share_one_notification(db: Database) -> None:
    clock = Clock()
    notifier, _ = make_notifier(db, clock, group_window_seconds=10)
    for service in ("web", "db", "worker"):
        await notifier.submit(make_event(service=service, title=f"{service} died"))
        clock.advance(3)
    [grouped] = notifier.list_notifications()
    assert grouped["state"] == "grouping"
    assert [e["service"] for e in grouped["events"]] == ["web", "db", "worker"]
    assert grouped["title"] == "shop: web died; db died; worker died"
    clock.advance(2)
    await notifier.submit(make_event(service="cache", title="cache died"))
    newest, oldest = notifier.list_notifications()
    assert [e["service"] for e in newest["events"]] == ["cache"]
    assert oldest["state"] == "pending" and newest["state"] == "grouping"
    await notifier.submit(make_event(deployment="blog", title="blog died"))
    assert len(notifier.list_notifications()) == 3


async def test_resolution_goes_where_the_problem_went(db: Database) -> None:
    clock = Clock()
    notifier, _ = make_notifier(
        db,
        clock,
        ("a", "b"),
        routes=[{"kinds": ["ill-health"], "channels": ["a"]}, {"channels": ["b"]}],
        group_window_seconds=0,
    )
    await notifier.submit(make_event())
    await notifier.submit(recovered_event())
    resolved, fired = notifier.list_notifications()
    assert [d["channel"] for d in fired["deliveries"]] == ["a"]
    assert [d["channel"] for d in resolved["deliveries"]] == ["a"]
    assert resolved["status"] == "resolved"


async def test_silence_holds_back_until_it_is_removed(db: Database) -> None:
    clock = Clock()
    notifier, _ = make_notifier(db, clock, group_window_seconds=0)
    until = datetime.fromtimestamp(clock.now, UTC) + timedelta(hours=2)
    silence = notifier.add_silence("shop", until, "upgrading the database")
    assert [s["id"] for s in notifier.list_silences()] == [silence["id"]]
    await notifier.submit(make_event())
    await notifier.submit(make_event(deployment="blog"))
    assert [n["deployment"] for n in notifier.list_notifications()] == ["blog"]
    assert notifier.outbox_state()["firing_problems"][0]["notified"] is False
    assert notifier.remove_silence(silence["id"])
    newest = notifier.list_notifications()[0]
    assert newest["deployment"] == "shop" and newest["events"][0]["service"] == "web"
    with pytest.raises(ValueError, match="deployment"):
        notifier.add_silence("../etc", until)


async def test_sweep_sends_a_reminder_after_the_repeat_interval(db: Database) -> None:
    clock = Clock()
    notifier, _ = make_notifier(db, clock, group_window_seconds=0, repeat_interval_seconds=600)
    await notifier.submit(make_event())
    clock.advance(599)
    assert notifier.sweep() == 0
    clock.advance(1)
    assert notifier.sweep() == 1
    reminder = notifier.list_notifications()[0]
    assert reminder["events"][0]["note"].startswith("still failing since")
    assert notifier.sweep() == 0


async def test_history_is_pruned_only_when_delivered(db: Database) -> None:
    clock = Clock()
    notifier, _ = make_notifier(
        db, clock, group_window_seconds=0, history_days=1, repeat_interval_seconds=None
    )
    await notifier.submit(make_event())
    clock.advance(2 * 86400)
    notifier.sweep()
    assert len(notifier.list_notifications()) == 1  # still pending: kept
    db.execute("UPDATE notification_deliveries SET status = 'sent'")
    notifier.sweep()
    assert notifier.list_notifications() == []


def worker_for(
    db: Database, clock: Clock, channel: FakeChannel, dead: list[str], dead_after: float = 60
) -> tuple[ChannelWorker, Outbox]:
    outbox = Outbox(db)
    policy = RetryPolicy(initial=1, maximum=4, dead_after=dead_after)
    worker = ChannelWorker(
        channel,
        outbox,
        policy,
        clock,
        render=lambda nid: _render(outbox, nid),
        on_dead=lambda d, e: dead.append(e),
        redact=lambda s: s.replace("sekrit", "****"),
    )
    return worker, outbox


def _render(outbox: Outbox, notification_id: int) -> RenderedMessage | None:
    from stackmedic.notify.render import RenderContext, render

    stored = outbox.load(notification_id)
    return render(stored, RenderContext(host="h")) if stored else None


def due_deliveries(db: Database) -> list[tuple[str, float, int]]:
    rows = db.fetchall(
        "SELECT status, next_attempt_at, attempts FROM notification_deliveries ORDER BY id"
    )
    return [(r["status"], r["next_attempt_at"], r["attempts"]) for r in rows]


async def test_backoff_doubles_to_the_maximum_holds_the_channel_and_gives_up(
    db: Database,
) -> None:
    clock = Clock()
    t0 = clock.now
    notifier, _ = make_notifier(db, clock, group_window_seconds=0)
    await notifier.submit(make_event())
    await notifier.submit(make_event(deployment="blog"))
    down = [ChannelUnreachable("cannot connect to sekrit host")] * 10
    channel = FakeChannel("a", errors=down)
    dead: list[str] = []
    worker, outbox = worker_for(db, clock, channel, dead, dead_after=9)

    delays = []
    for _ in range(4):
        delivery = outbox.claim_next("a", clock.now)
        assert delivery is not None and delivery.notification_id == 1
        await worker.attempt(delivery)
        _, next_at, _ = due_deliveries(db)[0]
        delays.append(next_at - clock.now)
        assert due_deliveries(db)[1][1] >= next_at  # the channel's other delivery waits too
        clock.now = next_at
    assert delays == [1, 2, 4, 2]  # the last retry is capped at the dead-after deadline
    assert clock.now == t0 + 9
    delivery = outbox.claim_next("a", clock.now)
    assert delivery is not None
    await worker.attempt(delivery)
    assert due_deliveries(db)[0][0] == "dead"
    assert dead == ["cannot connect to **** host"]
    row = db.fetchone("SELECT last_error FROM notification_deliveries WHERE id = 1")
    assert row is not None and "sekrit" not in row["last_error"]


async def test_permanent_rejection_is_dead_at_once_and_success_clears_the_error(
    db: Database, agent_events: AgentEvents
) -> None:
    clock = Clock()
    notifier, _ = make_notifier(db, clock, group_window_seconds=0)
    await notifier.submit(make_event())
    await notifier.submit(make_event(deployment="blog"))
    channel = FakeChannel(
        "a", errors=[DeliveryError("bad payload", permanent=True), DeliveryError("busy")]
    )
    dead: list[str] = []
    worker, outbox = worker_for(db, clock, channel, dead)
    first = outbox.claim_next("a", clock.now)
    assert first is not None
    await worker.attempt(first)
    assert dead == ["bad payload"]
    second = outbox.claim_next("a", clock.now)
    assert second is not None
    await worker.attempt(second)
    clock.advance(1)
    again = outbox.claim_next("a", clock.now)
    assert again is not None and again.attempts == 2
    await worker.attempt(again)
    assert [d[0] for d in due_deliveries(db)] == ["dead", "sent"]
    assert len(channel.sent) == 1 and channel.sent[0].deployment == "blog"


async def test_interrupted_delivery_is_due_again_after_a_restart(db: Database) -> None:
    clock = Clock()
    notifier, _ = make_notifier(db, clock, group_window_seconds=0)
    await notifier.submit(make_event())
    outbox = Outbox(db)
    assert outbox.claim_next("a", clock.now) is not None
    assert outbox.claim_next("a", clock.now) is None  # in flight: not claimed twice
    assert outbox.reset_interrupted(clock.now) == 1
    delivery = outbox.claim_next("a", clock.now)
    assert delivery is not None and delivery.attempts == 2


async def test_removed_channel_deliveries_are_dead_with_an_agent_event(
    db: Database, agent_events: AgentEvents
) -> None:
    clock = Clock()
    notifier, _ = make_notifier(db, clock, ("a", "b"), group_window_seconds=0)
    await notifier.submit(make_event())
    shrunk, _ = make_notifier(db, clock, ("a",), group_window_seconds=0)
    shrunk._record_event = agent_events
    await shrunk.start()
    try:
        [entry] = agent_events.entries
        assert "channel 'b' is no longer configured" in entry["message"]
    finally:
        await shrunk.close()


@pytest.mark.parametrize("step", [-3600.0, 3600.0], ids=["back", "forward"])
async def test_a_wall_clock_step_neither_delays_nor_hastens_a_delivery(
    db: Database, step: float
) -> None:
    # A host without a real-time clock: NTP sets the time while a notification waits.
    clock = SteppedClock()
    notifier = Notifier(
        NotifyConfig.model_validate({"channels": {"a": {"type": "fake"}}, "host": "h",
                                     "group_window_seconds": 1.5}),
        db, clock=clock.wall, channels={"a": FakeChannel("a")},
    )
    channel = FakeChannel("a")
    outbox = Outbox(db)
    worker = ChannelWorker(
        channel, outbox, RetryPolicy(initial=1, maximum=4, dead_after=60), clock.wall,
        render=lambda nid: _render(outbox, nid), on_dead=lambda d, e: None,
        redact=lambda s: s, monotonic=clock.monotonic,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(worker.run(stopping))
    try:
        await async_wait_until(lambda: worker.clock_offset is not None, 5,
                               message="the worker saw the clocks")
        await notifier.submit(make_event())
        queued = time.monotonic()
        worker.wake.set()
        clock.step(step)
        worker.wake.set()
        await async_wait_until(lambda: channel.sent, 10, message="delivered")
        waited = time.monotonic() - queued
        # Sent once its 1.5 s grouping window passed: not an hour later, nor at once.
        assert waited >= 1.0 and waited < 10, waited
        assert [status for status, _, _ in due_deliveries(db)] == ["sent"]
    finally:
        stopping.set()
        worker.wake.set()
        await task


def news(kind: str, **fields: Any) -> Any:
    """Recovery news of deployment ``shop``."""
    values: dict[str, Any] = {"severity": "info", "service": None, "title": f"shop {kind}",
                              "details": {}, **fields}
    return make_event(kind=kind, **values)


def titles(notifier: Notifier) -> list[list[str]]:
    """Each notification's event kinds (sorted), oldest notification first."""
    return [sorted(e["kind"] for e in n["events"])
            for n in reversed(notifier.list_notifications())]


async def recovery_after_the_window(db: Database) -> tuple[Notifier, Clock]:
    """A problem told, then its recovery started 15 s later (the 10-s window closed)."""
    clock = Clock()
    notifier, _ = make_notifier(db, clock, group_window_seconds=10)
    await notifier.submit(make_event())
    clock.advance(15)
    await notifier.submit(news("recovery-started"))
    return notifier, clock


async def test_recovery_news_after_the_window_waits_for_the_next_notice(db: Database) -> None:
    # On a loaded host a recovery starts after its problem's notice went out, and its
    # result comes after the deployment was healthy for a window: two notices, not four.
    notifier, clock = await recovery_after_the_window(db)
    clock.advance(20)
    await notifier.submit(recovered_event())
    [waiting, _] = notifier.list_notifications()
    assert waiting["state"] == "grouping"  # the resolution waits for the recovery's result
    clock.advance(20)
    await notifier.submit(news("recovery-succeeded"))
    assert titles(notifier) == [["ill-health"],
                                ["recovered", "recovery-started", "recovery-succeeded"]]
    clock.advance(9)
    assert notifier.list_notifications()[0]["state"] == "grouping"
    clock.advance(2)  # a window after the result, not the whole wait
    assert notifier.list_notifications()[0]["state"] == "pending"


async def test_news_nothing_follows_goes_out_alone_after_the_wait(db: Database) -> None:
    clock = Clock()
    notifier, _ = make_notifier(db, clock, group_window_seconds=10, news_hold_seconds=30)
    await notifier.submit(news("recovery-started"))
    clock.advance(29)
    assert notifier.list_notifications()[0]["state"] == "grouping"
    clock.advance(2)
    assert notifier.list_notifications()[0]["state"] == "pending"
    await notifier.submit(news("recovery-gave-up", severity="critical"))
    assert titles(notifier) == [["recovery-started"], ["recovery-gave-up"]]


async def test_a_problem_after_waiting_news_goes_out_a_window_later(db: Database) -> None:
    clock = Clock()
    notifier, _ = make_notifier(db, clock, group_window_seconds=10)
    await notifier.submit(news("recovery-started"))
    clock.advance(5)
    await notifier.submit(make_event())
    clock.advance(11)
    assert notifier.list_notifications()[0]["state"] == "pending"
    assert titles(notifier) == [["ill-health", "recovery-started"]]


async def test_a_resolution_with_no_recovery_under_way_does_not_wait(db: Database) -> None:
    notifier, clock = await recovery_after_the_window(db)
    clock.advance(5)
    await notifier.submit(news("recovery-gave-up", severity="critical"))
    clock.advance(30)
    await notifier.submit(recovered_event())  # a person fixed it
    clock.advance(11)
    assert notifier.list_notifications()[0]["state"] == "pending"
    assert titles(notifier) == [["ill-health"], ["recovery-gave-up", "recovery-started"],
                                ["recovered"]]


@pytest.mark.parametrize("settings", [{"group_window_seconds": 0},
                                      {"group_window_seconds": 10, "news_hold_seconds": 0}])
async def test_news_never_waits_where_nothing_is_grouped_or_waiting_is_off(
        db: Database, settings: dict[str, Any]) -> None:
    clock = Clock()
    notifier, _ = make_notifier(db, clock, **settings)
    await notifier.submit(news("recovery-started"))
    clock.advance(11)
    assert notifier.list_notifications()[0]["state"] == "pending"


async def test_waiting_news_goes_once_its_recovery_ends_with_nothing_to_tell(
        db: Database) -> None:
    # A run that failed (the next comes after a backoff) or was called off tells no one:
    # what waited for its result goes a window later, not at the end of the wait.
    clock = Clock()
    notifier, _ = make_notifier(db, clock, group_window_seconds=10)
    await notifier.submit(news("recovery-started"))
    await notifier.submit(news("recovery-started", deployment="blog", title="blog restarting"))
    clock.advance(20)
    notifier.release_news("shop")
    clock.advance(9)
    blog, shop = notifier.list_notifications()
    assert (shop["deployment"], shop["state"]) == ("shop", "grouping")
    clock.advance(2)
    blog, shop = notifier.list_notifications()
    assert (shop["state"], blog["state"]) == ("pending", "grouping")
