"""Webhook channel: a signed JSON POST per notification."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, ClassVar

import httpx

from stackmedic.notify.channel_config import ChannelSettings, WebhookChannelConfig
from stackmedic.notify.channels.base import Channel
from stackmedic.notify.channels.http import HttpClientHolder, post
from stackmedic.notify.channels.payloads import (
    SCHEMA,
    alertmanager_webhook,
    encode,
    stackmedic_payload,
)
from stackmedic.notify.models import RenderedMessage
from stackmedic.redact import mask_url

SIGNATURE_HEADER = "X-Stackmedic-Signature"


def sign(body: bytes, secret: str) -> str:
    """Return the signature header value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: bytes, secret: str, header: str) -> bool:
    """Check a signature header against the raw body (for receivers and tests)."""
    return hmac.compare_digest(sign(body, secret), header)


class WebhookChannel(Channel):
    """POSTs ``stackmedic.notification/v1`` JSON (or Alertmanager's webhook shape)."""

    kind: ClassVar[str] = "webhook"
    config_model: ClassVar[type[ChannelSettings]] = WebhookChannelConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset({"secret", "headers"})

    def __init__(
        self,
        name: str,
        settings: ChannelSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(name, settings)
        assert isinstance(settings, WebhookChannelConfig)
        self.config = settings
        self._http = HttpClientHolder(settings.timeout_seconds, settings.verify_tls, transport)

    async def open(self) -> None:
        """Create the HTTP client."""
        await self._http.open()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    def body(self, message: RenderedMessage) -> bytes:
        """Return the exact bytes POSTed for a message."""
        if self.config.format == "alertmanager":
            return encode(alertmanager_webhook(message, receiver=self.name))
        return encode(stackmedic_payload(message))

    def headers(self, message: RenderedMessage, body: bytes) -> dict[str, str]:
        """Return the request headers: content type, idempotency key, signature, extras."""
        headers = {k: v.get_secret_value() for k, v in self.config.headers.items()}
        headers["Content-Type"] = "application/json"
        headers["Idempotency-Key"] = message.idempotency_key
        headers["X-Stackmedic-Schema"] = (
            SCHEMA if self.config.format == "stackmedic" else "alertmanager/4"
        )
        if self.config.secret is not None:
            headers[SIGNATURE_HEADER] = sign(body, self.config.secret.get_secret_value())
        return headers

    async def send(self, message: RenderedMessage) -> None:
        """POST the message; raise ``DeliveryError`` unless the receiver answers 2xx."""
        await self.open()
        body = self.body(message)
        await post(self._http.client, self.config.url, body, self.headers(message, body))

    def describe(self) -> dict[str, Any]:
        """Return settings with secrets, URL password and query values masked."""
        described = super().describe()
        described["settings"]["url"] = mask_url(self.config.url)
        return described
