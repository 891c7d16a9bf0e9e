"""Alertmanager channel: firing and resolved alerts posted to its v2 API.

An Alertmanager cluster is listed member by member (``urls``): senders must post every
alert to every member, never through a load balancer. Each member is then a delivery of
its own (``name#1``, ``name#2``, ...) in the outbox, so a member that is down gets its copy
when it is back while the others are neither held back nor sent it twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from stackmedic.notify.channel_config import AlertmanagerChannelConfig, ChannelSettings
from stackmedic.notify.channels.base import Channel
from stackmedic.notify.channels.http import HttpClientHolder, post
from stackmedic.notify.channels.payloads import encode, postable_alerts
from stackmedic.notify.models import RenderedMessage
from stackmedic.redact import mask_url


class _Bearer(httpx.Auth):
    """Adds ``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Set the header and send."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class AlertmanagerChannel(Channel):
    """POSTs alerts labelled alertname/deployment/service/host/severity to ``/api/v2/alerts``.

    With several ``urls`` the channel stands for the cluster: its members (one channel per
    URL) do the deliveries, and a send through the channel itself (a test) posts to each.
    """

    kind: ClassVar[str] = "alertmanager"
    config_model: ClassVar[type[ChannelSettings]] = AlertmanagerChannelConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset({"password", "bearer_token"})

    def __init__(
        self,
        name: str,
        settings: ChannelSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(name, settings)
        assert isinstance(settings, AlertmanagerChannelConfig)
        self.config = settings
        self._http = HttpClientHolder(settings.timeout_seconds, settings.verify_tls, transport)
        self._now = now or (lambda: datetime.now(UTC))
        urls = settings.members
        self.base_url = urls[0]
        self._members: dict[str, AlertmanagerChannel] = {}
        if len(urls) > 1:
            for number, url in enumerate(urls, 1):
                member = settings.model_copy(update={"url": url, "urls": None})
                member_name = f"{name}#{number}"
                self._members[member_name] = AlertmanagerChannel(
                    member_name, member, transport=transport, now=now
                )

    @property
    def endpoint(self) -> str:
        """The alerts endpoint under the (first) configured base URL."""
        return self.base_url.rstrip("/") + "/api/v2/alerts"

    def members(self) -> dict[str, Channel]:
        """One delivery per cluster member (``name#N``), or the channel itself."""
        return dict(self._members) if self._members else {self.name: self}

    def _auth(self) -> httpx.Auth | None:
        """Return basic or bearer auth when configured."""
        if self.config.username is not None and self.config.password is not None:
            return httpx.BasicAuth(self.config.username, self.config.password.get_secret_value())
        if self.config.bearer_token is not None:
            return _Bearer(self.config.bearer_token.get_secret_value())
        return None

    async def open(self) -> None:
        """Create the HTTP client (each member's)."""
        for member in self._members.values():
            await member.open()
        if not self._members:
            await self._http.open()

    async def aclose(self) -> None:
        """Close the HTTP client (each member's)."""
        for member in self._members.values():
            await member.aclose()
        await self._http.aclose()

    def alerts(self, message: RenderedMessage) -> list[dict[str, Any]]:
        """Return the alerts posted for a message."""
        return postable_alerts(
            message, self._now(), self.config.firing_ttl_seconds, self.config.extra_labels
        )

    async def send(self, message: RenderedMessage) -> None:
        """POST the message's alerts (to every member); a message holding no alert sends nothing.

        Through the cluster's own channel, the first member's error is raised after every
        member was tried.
        """
        if self._members:
            results = await asyncio.gather(
                *(m.send(message) for m in self._members.values()), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            return
        alerts = self.alerts(message)
        if not alerts:
            return
        await self.open()
        headers = {"Content-Type": "application/json"}
        await post(self._http.client, self.endpoint, encode(alerts), headers, auth=self._auth())

    def describe(self) -> dict[str, Any]:
        """Return settings with secrets and the URL's password masked."""
        described = super().describe()
        if self.config.urls is not None:
            described["settings"]["urls"] = [mask_url(url) for url in self.config.urls]
            described["members"] = sorted(self._members)
        else:
            described["settings"]["url"] = mask_url(self.base_url)
        return described
