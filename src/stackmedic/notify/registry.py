"""Which channel class serves which ``type``: built-ins registered explicitly, plus plugins."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from pydantic import ValidationError

from stackmedic.notify.channel_config import ChannelSettings, PluginChannelConfig
from stackmedic.notify.channels.base import Channel
from stackmedic.notify.errors import ChannelConfigError

ENTRY_POINT_GROUP = "stackmedic.channels"
# Built-in kinds by the module and class that serve them. A module is imported only when a
# channel of its kind is built, so its client library (aiosmtplib, httpx, apprise) is loaded
# only by an agent that has such a channel.
BUILTIN_CHANNELS: dict[str, tuple[str, str]] = {
    "email": ("stackmedic.notify.channels.email", "EmailChannel"),
    "webhook": ("stackmedic.notify.channels.webhook", "WebhookChannel"),
    "alertmanager": ("stackmedic.notify.channels.alertmanager", "AlertmanagerChannel"),
    "apprise": ("stackmedic.notify.channels.apprise_url", "AppriseChannel"),
}


class ChannelRegistry:
    """Maps channel kinds to channel classes and builds channels from their settings.

    A plugin package adds a kind by declaring an entry point in the ``stackmedic.channels``
    group that names a ``Channel`` subclass with its own ``kind`` and ``config_model``.
    """

    def __init__(self) -> None:
        self._classes: dict[str, type[Channel]] = {}
        self._deferred: dict[str, tuple[str, str]] = {}

    @classmethod
    def with_builtins(cls, *, plugins: bool = True) -> ChannelRegistry:
        """Return a registry holding the four built-in kinds and, optionally, plugins."""
        registry = cls()
        registry._deferred.update(BUILTIN_CHANNELS)
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
        if kind in self._deferred and self._deferred[kind] != _origin(channel_class):
            raise ValueError(f"channel kind {kind!r} is already registered")
        if kind in self._classes and self._classes[kind] is not channel_class:
            raise ValueError(f"channel kind {kind!r} is already registered")
        self._deferred.pop(kind, None)
        self._classes[kind] = channel_class

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Register the channel classes published in an entry-point group; return their kinds."""
        loaded = []
        for entry in entry_points(group=group):
            try:
                channel_class = entry.load()
                self.register(channel_class)
            except Exception as exc:  # a broken plugin must not stop the agent
                import structlog  # only here: the config check needs no logging otherwise

                log = structlog.get_logger(__name__)
                log.error("channel plugin not loaded", entry_point=entry.name, error=str(exc))
                continue
            loaded.append(channel_class.kind)
        return loaded

    def kinds(self) -> list[str]:
        """Return the registered kinds, sorted."""
        return sorted({*self._classes, *self._deferred})

    def get(self, kind: str) -> type[Channel] | None:
        """Return the class of a kind, or None; a built-in kind's module is imported now."""
        if kind in self._deferred:
            module, name = self._deferred[kind]
            self.register(getattr(import_module(module), name))
        return self._classes.get(kind)

    def build(self, name: str, settings: ChannelSettings) -> Channel:
        """Create the channel ``name``; errors name the channel and the field."""
        channel_class = self.get(settings.type)
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


def _origin(channel_class: type[Channel]) -> tuple[str, str]:
    """The module and name a class is defined under."""
    return channel_class.__module__, channel_class.__qualname__
