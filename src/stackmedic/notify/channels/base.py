"""The channel interface every notification channel implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from stackmedic.notify.channel_config import ChannelSettings
from stackmedic.notify.models import RenderedMessage
from stackmedic.redact import mask_settings, secret_values


class Channel(ABC):
    """A place notifications go: declares its kind, its settings and which are secret.

    ``send`` returns nothing on success and raises a ``DeliveryError`` on failure.
    ``open`` and ``aclose`` bracket the channel's life inside the running loop.
    """

    kind: ClassVar[str]
    config_model: ClassVar[type[ChannelSettings]]
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    max_title_length: ClassVar[int | None] = None
    max_body_length: ClassVar[int | None] = None

    def __init__(self, name: str, settings: ChannelSettings) -> None:
        if not isinstance(settings, self.config_model):
            raise TypeError(
                f"channel {name!r}: {type(self).__name__} needs {self.config_model.__name__}"
            )
        self.name = name
        self.settings = settings

    async def open(self) -> None:
        """Prepare connections or clients; called once before the first send."""
        return None

    async def aclose(self) -> None:
        """Release what ``open`` prepared."""
        return None

    def members(self) -> dict[str, Channel]:
        """Where deliveries go, by delivery name: the channel itself, or each member of a
        cluster (each delivered and retried on its own through the outbox)."""
        return {self.name: self}

    @abstractmethod
    async def send(self, message: RenderedMessage) -> None:
        """Deliver one message or raise ``DeliveryError``."""

    def secrets(self) -> list[str]:
        """Return the secret strings of this channel's settings, for redaction."""
        return secret_values(self.settings)

    def describe(self) -> dict[str, Any]:
        """Return name, kind and settings with every secret masked."""
        return {
            "name": self.name,
            "kind": self.kind,
            "settings": mask_settings(self.settings, self.secret_fields),
            "secret_fields": sorted(self.secret_fields),
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
