"""apprise channel: one apprise URL (Slack, Discord, Telegram, ntfy, Gotify, Matrix, ...)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise

from stackmedic.notify.channel_config import AppriseChannelConfig, ChannelSettings
from stackmedic.notify.channels.base import Channel
from stackmedic.notify.errors import ChannelConfigError, ChannelUnreachable, DeliveryError
from stackmedic.notify.models import RenderedMessage


def _notify_type(message: RenderedMessage) -> apprise.NotifyType:
    """Map status and severity to apprise's four message types."""
    if message.status == "resolved":
        return apprise.NotifyType.SUCCESS
    return {
        "critical": apprise.NotifyType.FAILURE,
        "warning": apprise.NotifyType.WARNING,
        "info": apprise.NotifyType.INFO,
    }[message.severity]


class AppriseChannel(Channel):
    """Sends through one apprise URL; the whole URL is secret and shown with privacy masking."""

    kind: ClassVar[str] = "apprise"
    config_model: ClassVar[type[ChannelSettings]] = AppriseChannelConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset({"url"})

    def __init__(self, name: str, settings: ChannelSettings) -> None:
        super().__init__(name, settings)
        assert isinstance(settings, AppriseChannelConfig)
        self.config = settings
        asset = apprise.AppriseAsset(app_id="stackmedic", app_desc="stackmedic")
        with warnings.catch_warnings():
            # apprise's first use loads every plugin; some import modules Python deprecates.
            warnings.simplefilter("ignore", DeprecationWarning)
            service = apprise.Apprise.instantiate(settings.url.get_secret_value(), asset=asset)
        if service is None:
            raise ChannelConfigError(name, "url", "apprise does not recognise this URL")
        self._service = service
        self._apprise = apprise.Apprise(asset=asset)
        if not self._apprise.add(service) or len(self._apprise) != 1:
            raise ChannelConfigError(name, "url", "must hold exactly one apprise URL")

    async def send(self, message: RenderedMessage) -> None:
        """Notify through apprise; raise ``DeliveryError`` unless it reports success."""
        result = await self._apprise.async_notify(
            body=message.text,
            title=message.subject,
            notify_type=_notify_type(message),
            body_format=apprise.NotifyFormat.TEXT,
            timeout=self.config.timeout_seconds,
        )
        if result:
            return
        status = getattr(getattr(result, "status", None), "name", "FAILURE")
        if status == "TIMEOUT":
            raise ChannelUnreachable(f"apprise {self._service.service_name}: timed out")
        raise DeliveryError(f"apprise {self._service.service_name}: delivery failed ({status})")

    def secrets(self) -> list[str]:
        """Return the URL and its token-like parts (password, query values, long path parts)."""
        url = self.config.url.get_secret_value()
        parts = urlsplit(url)
        found = [url]
        if parts.password:
            found.append(unquote(parts.password))
        found += [unquote(v) for _, v in parse_qsl(parts.query) if len(v) >= 8]
        found += [unquote(p) for p in [parts.netloc, *parts.path.split("/")] if len(p) >= 16]
        return found

    def describe(self) -> dict[str, Any]:
        """Return settings with the URL in apprise's privacy form."""
        described = super().describe()
        private_url: Callable[..., str] = self._service.url
        described["settings"]["url"] = str(private_url(privacy=True))
        return described
