"""Built-in notification channels: email, webhook, Alertmanager and apprise."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackmedic.lazy import lazy_exports

if TYPE_CHECKING:
    from stackmedic.notify.channels.alertmanager import AlertmanagerChannel
    from stackmedic.notify.channels.apprise_url import AppriseChannel
    from stackmedic.notify.channels.base import Channel
    from stackmedic.notify.channels.email import EmailChannel
    from stackmedic.notify.channels.webhook import WebhookChannel, sign, verify

# Loaded on first access, so that importing one light module of this package (a
# config model, say) does not load the heavy ones and their libraries.
_LAZY = {
    "AlertmanagerChannel": "stackmedic.notify.channels.alertmanager",
    "AppriseChannel": "stackmedic.notify.channels.apprise_url",
    "Channel": "stackmedic.notify.channels.base",
    "EmailChannel": "stackmedic.notify.channels.email",
    "WebhookChannel": "stackmedic.notify.channels.webhook",
    "sign": "stackmedic.notify.channels.webhook",
    "verify": "stackmedic.notify.channels.webhook",
}

__all__ = [
    "AlertmanagerChannel",
    "AppriseChannel",
    "Channel",
    "EmailChannel",
    "WebhookChannel",
    "sign",
    "verify",
]


__getattr__ = lazy_exports(globals(), _LAZY)
