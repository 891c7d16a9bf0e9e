"""Which channel class serves which ``type``: built-ins registered explicitly, plus plugins."""

from __future__ import annotations

from importlib.metadata import entry_points

import structlog
from pydantic import ValidationError

from stackmedic.notify.channel_config import ChannelSettings, PluginChannelConfig
from stackmedic.notify.channels.alertmanager import AlertmanagerChannel
from stackmedic.notify.channels.apprise_url import AppriseChannel
from stackmedic.notify.channels.base import Channel
from stackmedic.notify.channels.email import EmailChannel
from stackmedic.notify.channels.webhook import WebhookChannel
from stackmedic.notify.errors import ChannelConfigError

ENTRY_POINT_GROUP = "stackmedic.channels"
BUILTIN_CHANNELS: tuple[type[Channel], ...] = (
    EmailChannel,
    WebhookChannel,
    AlertmanagerChannel,
    AppriseChannel,
)


class ChannelRegistry:
    """Maps channel kinds to channel classes and builds channels from their settings.

    A plugin package adds a kind by declaring an entry point in the ``stackmedic.channels``
    group that names a ``Channel`` subclass with its own ``kind`` and ``config_model``.
    """

    def __init__(self) -> None:
        self._classes: dict[str, type[Channel]] = {}

    @classmethod
    def with_builtins(cls, *, plugins: bool = True) -> ChannelRegistry:
        """Return a registry holding the four built-in kinds and, optionally, plugins."""
        registry = cls()
        for channel_class in BUILTIN_CHANNELS:
            registry.register(channel_class)
        if plugins:
            registry.load_entry_points()
        return registry

    def register(self, channel_class: type[Channel]) -> None:
        """Add a channel class under its ``kind``; a kind can be registered once."""
        if not (isinstance(channel_class, type) and issubclass(channel_class, Channel)):
            raise TypeError(f"{channel_class!r} is not a Channel subclass")
        kind = getattr(channel_class, "kind", "")
        if not kind:
            raise TypeError(f"{channel_class.__name__} does not declare its kind")
        if kind in self._classes and self._classes[kind] is not channel_class:
            raise ValueError(f"channel kind {kind!r} is already registered")
        self._classes[kind] = channel_class

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Register the channel classes published in an entry-point group; return their kinds."""
        log = structlog.get_logger(__name__)
        loaded = []
        for entry in entry_points(group=group):
            try:
                channel_class = entry.load()
                self.register(channel_class)
            except Exception as exc:  # a broken plugin must not stop the agent
                log.error("channel plugin not loaded", entry_point=entry.name, error=str(exc))
                continue
            loaded.append(channel_class.kind)
        return loaded

    def kinds(self) -> list[str]:
        """Return the registered kinds, sorted."""
        return sorted(self._classes)

    def get(self, kind: str) -> type[Channel] | None:
        """Return the class of a kind, or None."""
        return self._classes.get(kind)

    def build(self, name: str, settings: ChannelSettings) -> Channel:
        """Create the channel ``name``; errors name the channel and the field."""
        channel_class = self._classes.get(settings.type)
        if channel_class is None:
            known = ", ".join(self.kinds())
            raise ChannelConfigError(
                name, "type", f"unknown channel type {settings.type!r} (known: {known})"
            )
        if isinstance(settings, PluginChannelConfig):
            data = {"type": settings.type, **(settings.model_extra or {})}
            try:
                settings = channel_class.config_model.model_validate(data)
            except ValidationError as exc:
                error = exc.errors(include_url=False)[0]
                field = ".".join(str(p) for p in error["loc"]) or "settings"
                problem = str(error["msg"]).removeprefix("Value error, ")
                raise ChannelConfigError(name, field, problem) from None
        return channel_class(name, settings)
