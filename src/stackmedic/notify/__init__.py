"""Notifications: channels, routing, noise control and a durable outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackmedic.lazy import lazy_exports

if TYPE_CHECKING:
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
    from stackmedic.notify.types import NotificationKind, RecordEvent
    from stackmedic.types import Severity

# Loaded on first access, so that importing one light module of this package (a
# config model, say) does not load the heavy ones and their libraries.
_LAZY = {
    "AlertmanagerChannelConfig": "stackmedic.notify.channel_config",
    "AppriseChannelConfig": "stackmedic.notify.channel_config",
    "ChannelConfig": "stackmedic.notify.channel_config",
    "ChannelSettings": "stackmedic.notify.channel_config",
    "EmailChannelConfig": "stackmedic.notify.channel_config",
    "PluginChannelConfig": "stackmedic.notify.channel_config",
    "WebhookChannelConfig": "stackmedic.notify.channel_config",
    "AlertmanagerChannel": "stackmedic.notify.channels",
    "AppriseChannel": "stackmedic.notify.channels",
    "Channel": "stackmedic.notify.channels",
    "EmailChannel": "stackmedic.notify.channels",
    "WebhookChannel": "stackmedic.notify.channels",
    "DeploymentOverride": "stackmedic.notify.config",
    "NotifyConfig": "stackmedic.notify.config",
    "RouteConfig": "stackmedic.notify.config",
    "describe_validation_error": "stackmedic.notify.config",
    "load_notify_config": "stackmedic.notify.config",
    "ChannelConfigError": "stackmedic.notify.errors",
    "ChannelRejected": "stackmedic.notify.errors",
    "ChannelUnreachable": "stackmedic.notify.errors",
    "DeliveryError": "stackmedic.notify.errors",
    "NotifyConfigError": "stackmedic.notify.errors",
    "NotifyError": "stackmedic.notify.errors",
    "UnknownChannelError": "stackmedic.notify.errors",
    "DeliveryResult": "stackmedic.notify.models",
    "MessageEvent": "stackmedic.notify.models",
    "NotificationEvent": "stackmedic.notify.models",
    "RenderedMessage": "stackmedic.notify.models",
    "ENTRY_POINT_GROUP": "stackmedic.notify.registry",
    "ChannelRegistry": "stackmedic.notify.registry",
    "Notifier": "stackmedic.notify.service",
    "NotificationKind": "stackmedic.notify.types",
    "RecordEvent": "stackmedic.notify.types",
    "Severity": "stackmedic.types",
}

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
    "MessageEvent",
    "NotificationEvent",
    "NotificationKind",
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


__getattr__ = lazy_exports(globals(), _LAZY)
