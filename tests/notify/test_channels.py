"""Every channel honours the channel contract; HTTP channels unit-tested with MockTransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from notify.conftest import make_event, recovered_event
from stackmedic.notify import (
    AlertmanagerChannel,
    ChannelRegistry,
    ChannelRejected,
    ChannelUnreachable,
    DeliveryError,
    EmailChannel,
    MessageEvent,
    NotificationEvent,
    RenderedMessage,
    WebhookChannel,
    load_notify_config,
)
from stackmedic.notify.channels import verify
from stackmedic.notify.outbox import StoredNotification
from stackmedic.notify.render import RenderContext, render
from support.servers import free_port

SECRET = "contract-secret-77"


def message(*events: NotificationEvent, severity: str | None = None) -> RenderedMessage:
    """Render events as notification 7 of host h1."""
    items = tuple(
        MessageEvent(
            event=e,
            alert_severity=severity or e.severity,
            alert_started_at=datetime(2024, 5, 1, 12, 0, 3, tzinfo=UTC),
        )
        for e in (events or (make_event(),))
    )
    stored = StoredNotification(7, "key-7", "shop", "critical", 1714564803.0, 1714564803.0, items)
    return render(stored, RenderContext(host="h1"))


def closed_url(scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{free_port()}"


CONTRACT_CASES: dict[str, dict[str, Any]] = {
    "email": {
        "type": "email",
        "host": "127.0.0.1",
        "port": free_port(),
        "security": "none",
        "username": "u",
        "password": SECRET,
        "from_address": "a@b.c",
        "to": ["d@e.f"],
        "timeout_seconds": 5,
    },
    "webhook": {
        "type": "webhook",
        "url": closed_url(),
        "secret": SECRET,
        "headers": {"X-Token": SECRET},
    },
    "alertmanager": {
        "type": "alertmanager",
        "url": closed_url(),
        "username": "u",
        "password": SECRET,
    },
    "alertmanager-cluster": {
        "type": "alertmanager",
        "urls": [closed_url(), f"http://u:{SECRET}@127.0.0.1:{free_port()}"],
        "bearer_token": SECRET,
    },
    "apprise": {"type": "apprise", "url": f"json://u:{SECRET}@127.0.0.1:{free_port()}/"},
}


@pytest.mark.parametrize("kind", sorted(CONTRACT_CASES))
async def test_channel_contract(kind: str) -> None:
    registry = ChannelRegistry.with_builtins(plugins=False)
    settings = load_notify_config({"channels": {"x": CONTRACT_CASES[kind]}}).channels["x"]
    channel = registry.build("x", settings)
    kind = CONTRACT_CASES[kind]["type"]
    assert channel.kind == kind and registry.get(kind) is type(channel)
    fields = channel.config_model.model_fields
    assert channel.secret_fields <= set(fields)
    secret_typed = {name for name, info in fields.items() if "SecretStr" in str(info.annotation)}
    assert secret_typed <= channel.secret_fields, "every SecretStr field is declared secret"
    assert SECRET in channel.secrets()
    described = json.dumps(channel.describe())
    assert SECRET not in described
    assert "****" in described
    await channel.open()
    try:
        with pytest.raises(DeliveryError) as caught:
            await channel.send(message())
        assert SECRET not in str(caught.value)
    finally:
        await channel.aclose()


def webhook(handler: Any, **settings: Any) -> WebhookChannel:
    config = load_notify_config(
        {"channels": {"h": {"type": "webhook", "url": "https://hook.example/in", **settings}}}
    ).channels["h"]
    return WebhookChannel("h", config, transport=httpx.MockTransport(handler))


async def test_webhook_headers_and_signature() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    channel = webhook(handler, secret="s3", headers={"Authorization": "Bearer t"})
    await channel.send(message())
    [request] = seen
    assert request.headers["Idempotency-Key"] == "key-7"
    assert request.headers["Authorization"] == "Bearer t"
    assert request.headers["Content-Type"] == "application/json"
    assert verify(request.content, "s3", request.headers["X-Stackmedic-Signature"])
    body = json.loads(request.content)
    assert body["schema"] == "stackmedic.notification/v1" and body["notification_id"] == 7
    await channel.aclose()


@pytest.mark.parametrize(
    ("status", "headers", "permanent", "retry_after"),
    [
        (500, {}, False, None),
        (503, {"Retry-After": "7"}, False, 7.0),
        (429, {}, False, None),
        (404, {}, True, None),
        (401, {}, True, None),
    ],
)
async def test_webhook_status_mapping(
    status: int, headers: dict[str, str], permanent: bool, retry_after: float | None
) -> None:
    channel = webhook(lambda request: httpx.Response(status, headers=headers))
    with pytest.raises(ChannelRejected) as caught:
        await channel.send(message())
    assert caught.value.status == status and caught.value.permanent is permanent
    assert caught.value.retry_after == retry_after
    await channel.aclose()


async def test_webhook_connection_errors_do_not_leak_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    channel = webhook(refuse, url="https://user:pw-in-url@hook.example/in?token=tok-in-query")
    with pytest.raises(ChannelUnreachable) as caught:
        await channel.send(message())
    assert "pw-in-url" not in str(caught.value) and "tok-in-query" not in str(caught.value)
    described = channel.describe()["settings"]["url"]
    assert described == "https://user:****@hook.example/in?token=%2A%2A%2A%2A"
    await channel.aclose()


def alertmanager(handler: Any, **settings: Any) -> AlertmanagerChannel:
    config = load_notify_config(
        {"channels": {"am": {"type": "alertmanager", "url": "http://am:9093/", **settings}}}
    ).channels["am"]
    now = datetime(2024, 5, 1, 13, 0, tzinfo=UTC)
    return AlertmanagerChannel(
        "am", config, transport=httpx.MockTransport(handler), now=lambda: now
    )


async def test_alertmanager_alerts_auth_and_resolution() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    channel = alertmanager(handler, username="u", password="p", firing_ttl_seconds=86400)
    await channel.send(message())
    await channel.send(message(recovered_event(), severity="critical"))
    await channel.send(
        message(make_event(kind="recovery-started", severity="info", title="restarting"))
    )
    assert len(seen) == 2, "one-off news is not an alert"
    assert seen[0].url == "http://am:9093/api/v2/alerts"
    assert seen[0].headers["Authorization"] == "Basic dTpw"
    [firing] = json.loads(seen[0].content)
    [resolved] = json.loads(seen[1].content)
    assert firing["labels"] == resolved["labels"]
    assert firing["endsAt"] == "2024-05-02T13:00:00Z"
    assert resolved["endsAt"] == "2024-05-01T12:01:00Z"
    await channel.aclose()


async def test_alertmanager_severity_change_ends_the_old_alert() -> None:
    bodies: list[Any] = []
    channel = alertmanager(lambda r: bodies.append(json.loads(r.content)) or httpx.Response(200))
    item = MessageEvent(
        event=make_event(),
        alert_severity="critical",
        alert_started_at=datetime(2024, 5, 1, tzinfo=UTC),
        replaces_severity="warning",
    )
    stored = StoredNotification(1, "k", "shop", "critical", 0.0, 0.0, (item,))
    await channel.send(render(stored, RenderContext(host="h1")))
    new, old = bodies[0]
    assert (new["labels"]["severity"], old["labels"]["severity"]) == ("critical", "warning")
    assert old["endsAt"] == "2024-05-01T12:00:03Z"
    await channel.aclose()


@pytest.mark.parametrize(
    ("security", "port", "use_tls", "start_tls"),
    [("none", 25, False, False), ("starttls", 587, False, True), ("tls", 465, True, False)],
)
def test_email_connection_options(security: str, port: int, use_tls: bool, start_tls: bool) -> None:
    config = load_notify_config(
        {
            "channels": {
                "m": {
                    "type": "email",
                    "host": "smtp.example",
                    "security": security,
                    "username": "u",
                    "password": "p",
                    "from_address": "a@b.c",
                    "to": ["d@e.f", "g@h.i"],
                }
            }
        }
    ).channels["m"]
    channel = EmailChannel("m", config)
    options = channel.smtp_options()
    assert (options["port"], options["use_tls"], options["start_tls"]) == (port, use_tls, start_tls)
    assert options["password"] == "p" and options["validate_certs"] is True
    email = channel.build(message())
    assert email["To"] == "d@e.f, g@h.i" and email["Message-ID"] == "<key-7@h1>"
    assert email["Subject"] == "[stackmedic] CRITICAL PROBLEM: shop: web exited with code 137"
    assert email.is_multipart()
    assert [p.get_content_type() for p in email.iter_parts()] == ["text/plain", "text/html"]
    assert isinstance(getattr(config, "password", None), SecretStr)
