"""Built-in notification channels: email, webhook, Alertmanager and apprise."""

from stackmedic.notify.channels.alertmanager import AlertmanagerChannel
from stackmedic.notify.channels.apprise_url import AppriseChannel
from stackmedic.notify.channels.base import Channel
from stackmedic.notify.channels.email import EmailChannel
from stackmedic.notify.channels.webhook import WebhookChannel, sign, verify

__all__ = [
    "AlertmanagerChannel",
    "AppriseChannel",
    "Channel",
    "EmailChannel",
    "WebhookChannel",
    "sign",
    "verify",
]
