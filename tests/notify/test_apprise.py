"""The apprise channel end to end: apprise's json:// to a loopback HTTP receiver."""

from __future__ import annotations

from notify.conftest import NotifierFactory, make_event
from support.servers import HttpReceiver, free_port
from support.wait import async_wait_until


async def test_apprise_json_url_reaches_the_receiver(
    receiver: HttpReceiver, notifier_factory: NotifierFactory
) -> None:
    url = f"json://127.0.0.1:{receiver.port}/apprise"
    notifier = await notifier_factory({"channels": {"chat": {"type": "apprise", "url": url}}})
    await notifier.submit(make_event())
    [request] = await async_wait_until(receiver.accepted, 15)
    assert request.path == "/apprise"
    body = request.json()
    assert body["title"].startswith("[stackmedic] CRITICAL PROBLEM: shop: web exited with code 137")
    assert "exit_code: 137" in body["message"]
    assert body["type"] == "failure"
    await async_wait_until(lambda: notifier.list_notifications()[0]["state"] == "sent", 10)


async def test_apprise_failure_raises_and_is_retried(notifier_factory: NotifierFactory) -> None:
    url = f"json://127.0.0.1:{free_port()}/"
    notifier = await notifier_factory(
        {"channels": {"chat": {"type": "apprise", "url": url, "timeout_seconds": 5}}}
    )
    [result] = await notifier.send_test("chat")
    assert not result.ok and "apprise JSON" in (result.error or "")
    await notifier.submit(make_event())
    await async_wait_until(
        lambda: notifier.list_notifications()[0]["deliveries"][0]["attempts"] >= 2, 15
    )
    assert notifier.list_notifications()[0]["deliveries"][0]["status"] in ("retrying", "sending")
