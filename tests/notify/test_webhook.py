"""Webhook end to end against a real HTTP receiver on loopback."""

from __future__ import annotations

from typing import Any

from notify.conftest import AgentEvents, NotifierFactory, make_event
from stackmedic.notify.channels import verify
from support.servers import HttpReceiver, free_port
from support.wait import async_wait_until

SECRET = "whsec-0123456789abcdef"


def hook(url: str, **extra: Any) -> dict[str, Any]:
    """Webhook channel settings."""
    return {"type": "webhook", "url": url, "secret": SECRET, "timeout_seconds": 5, **extra}


async def test_signed_post_follows_the_v1_schema(
    receiver: HttpReceiver, notifier_factory: NotifierFactory
) -> None:
    notifier = await notifier_factory({"channels": {"hook": hook(receiver.url + "/in")}})
    await notifier.submit(make_event())
    [request] = await async_wait_until(receiver.accepted, 10)

    assert request.path == "/in"
    assert verify(request.body, SECRET, request.headers["X-Stackmedic-Signature"])
    assert not verify(request.body, "another-secret", request.headers["X-Stackmedic-Signature"])
    assert request.headers["X-Stackmedic-Signature"].startswith("sha256=")
    body = request.json()
    assert body["schema"] == "stackmedic.notification/v1"
    assert request.headers["Idempotency-Key"] == body["id"]
    assert body["deployment"] == "shop" and body["status"] == "firing"
    assert body["severity"] == "critical" and body["host"] == "testhost"
    [event] = body["events"]
    assert event["service"] == "web" and event["details"]["exit_code"] == 137
    assert event["fingerprint"] == "ill-health:shop:web"


async def test_receiver_failing_three_times_gets_it_exactly_once(
    receiver: HttpReceiver, notifier_factory: NotifierFactory
) -> None:
    receiver.statuses = [500, 500, 500]
    notifier = await notifier_factory({"channels": {"hook": hook(receiver.url)}})
    await notifier.submit(make_event())

    await async_wait_until(lambda: notifier.list_notifications()[0]["state"] == "sent", 10)
    requests = receiver.received()
    assert [r.answered for r in requests] == [500, 500, 500, 200]
    assert len(receiver.accepted()) == 1
    assert len({r.headers["Idempotency-Key"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    [delivery] = notifier.list_notifications()[0]["deliveries"]
    assert delivery["status"] == "sent" and delivery["attempts"] == 4


async def test_rejecting_receiver_is_marked_dead_with_an_agent_event(
    receiver: HttpReceiver, notifier_factory: NotifierFactory, agent_events: AgentEvents
) -> None:
    receiver.statuses = [400]
    notifier = await notifier_factory({"channels": {"hook": hook(receiver.url)}})
    await notifier.submit(make_event())
    await async_wait_until(lambda: notifier.list_notifications()[0]["state"] == "failed", 10)
    [entry] = agent_events.entries
    assert entry["kind"] == "notification-dead" and entry["deployment"] == "shop"
    assert "HTTP 400" in entry["message"] and entry["data"]["channel"] == "hook"
    assert notifier.outbox_state()["dead"] == 1


async def test_unreachable_receiver_is_dead_after_the_configured_age(
    notifier_factory: NotifierFactory, agent_events: AgentEvents
) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    notifier = await notifier_factory({"channels": {"hook": hook(url)}, "dead_after_seconds": 0.3})
    await notifier.submit(make_event())
    await async_wait_until(lambda: agent_events.entries, 10)
    [delivery] = notifier.list_notifications()[0]["deliveries"]
    assert delivery["status"] == "dead" and delivery["attempts"] >= 2
    assert "cannot connect" in delivery["last_error"]
    assert url not in delivery["last_error"]


async def test_three_containers_dying_together_make_one_notification(
    receiver: HttpReceiver, notifier_factory: NotifierFactory
) -> None:
    notifier = await notifier_factory(
        {"channels": {"hook": hook(receiver.url)}, "group_window_seconds": 0.5}
    )
    for service, code in (("web", 137), ("db", 1), ("worker", 137)):
        await notifier.submit(
            make_event(
                service=service,
                title=f"{service} exited with code {code}",
                details={"exit_code": code},
            )
        )
    [request] = await async_wait_until(receiver.accepted, 10)
    body = request.json()
    assert [e["service"] for e in body["events"]] == ["web", "db", "worker"]
    assert body["title"] == (
        "shop: web exited with code 137; db exited with code 1; worker exited with code 137"
    )
    for service in ("web", "db", "worker"):
        assert f"* {service} exited" in body["text"]
    await async_wait_until(lambda: notifier.list_notifications()[0]["state"] == "sent", 10)
    assert len(notifier.list_notifications()) == 1
    assert len(receiver.received()) == 1


async def test_alertmanager_format_for_existing_receivers(
    receiver: HttpReceiver, notifier_factory: NotifierFactory
) -> None:
    notifier = await notifier_factory(
        {"channels": {"hook": hook(receiver.url, format="alertmanager")}}
    )
    await notifier.submit(make_event())
    [request] = await async_wait_until(receiver.accepted, 10)
    body = request.json()
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["receiver"] == "hook" and body["groupLabels"] == {"deployment": "shop"}
    [alert] = body["alerts"]
    assert alert["labels"]["alertname"] == "ill-health"
    assert alert["labels"]["service"] == "web" and alert["labels"]["severity"] == "critical"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert verify(request.body, SECRET, request.headers["X-Stackmedic-Signature"])
