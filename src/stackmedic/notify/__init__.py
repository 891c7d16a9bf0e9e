"""Notifications: channels, routing, noise control and a durable outbox."""

from stackmedic.notify.channel_config import (
    AlertmanagerChannelConfig,
    AppriseChannelConfig,
    ChannelConfig,
    ChannelSettings,
    EmailChannelConfig,
    PluginChannelConfig,
    WebhookChannelConfig,
)
from stackmedic.notify.channels import (
    AlertmanagerChannel,
    AppriseChannel,
    Channel,
    EmailChannel,
    WebhookChannel,
)
from stackmedic.notify.config import (
    DeploymentOverride,
    NotifyConfig,
    RouteConfig,
    describe_validation_error,
    load_notify_config,
)
from stackmedic.notify.errors import (
    ChannelConfigError,
    ChannelRejected,
    ChannelUnreachable,
    DeliveryError,
    NotifyConfigError,
    NotifyError,
    UnknownChannelError,
)
from stackmedic.notify.models import (
    DeliveryResult,
    MessageEvent,
    NotificationEvent,
    RenderedMessage,
)
from stackmedic.notify.registry import ENTRY_POINT_GROUP, ChannelRegistry
from stackmedic.notify.service import Notifier
from stackmedic.notify.types import EventKind, RecordEvent, Severity

__all__ = [
    "ENTRY_POINT_GROUP",
    "AlertmanagerChannel",
    "AlertmanagerChannelConfig",
    "AppriseChannel",
    "AppriseChannelConfig",
    "Channel",
    "ChannelConfig",
    "ChannelConfigError",
    "ChannelRegistry",
    "ChannelRejected",
    "ChannelSettings",
    "ChannelUnreachable",
    "DeliveryError",
    "DeliveryResult",
    "DeploymentOverride",
    "EmailChannel",
    "EmailChannelConfig",
    "EventKind",
    "MessageEvent",
    "NotificationEvent",
    "Notifier",
    "NotifyConfig",
    "NotifyConfigError",
    "NotifyError",
    "PluginChannelConfig",
    "RecordEvent",
    "RenderedMessage",
    "RouteConfig",
    "Severity",
    "UnknownChannelError",
    "WebhookChannel",
    "WebhookChannelConfig",
    "describe_validation_error",
    "load_notify_config",
]
