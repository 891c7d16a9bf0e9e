"""Errors raised by the notify package.

::

    NotifyError
    ├── NotifyConfigError          the notifications config is wrong (names channel and field)
    │   └── ChannelConfigError     one channel's settings are wrong
    ├── UnknownChannelError        a channel name that is not configured
    └── DeliveryError              a channel could not deliver a message (retried unless permanent)
        ├── ChannelUnreachable     no connection: refused, DNS, TLS handshake, timeout
        └── ChannelRejected        the receiver answered with an error status or SMTP code

Messages never contain secrets: channels build them from status codes and error class
names, not from URLs or server replies that may echo credentials.
"""

from __future__ import annotations


class NotifyError(Exception):
    """Base of every error of the notify package."""


class NotifyConfigError(NotifyError):
    """The ``notifications`` config is invalid; the message names the place and the field."""


class ChannelConfigError(NotifyConfigError):
    """A channel's settings are invalid."""

    def __init__(self, channel: str, field: str, problem: str) -> None:
        self.channel = channel
        self.field = field
        self.problem = problem
        super().__init__(f"notifications.channels.{channel}.{field}: {problem}")


class UnknownChannelError(NotifyError):
    """A channel name that is not configured."""

    def __init__(self, channel: str, known: list[str]) -> None:
        self.channel = channel
        names = ", ".join(sorted(known)) or "none"
        super().__init__(f"no channel named {channel!r} (configured: {names})")


class DeliveryError(NotifyError):
    """A channel could not deliver a message.

    ``permanent`` means retrying cannot help (the receiver rejected the message itself);
    ``retry_after`` is the receiver's wish for the next attempt, in seconds.
    """

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class ChannelUnreachable(DeliveryError):
    """The channel's server could not be reached or did not answer in time."""


class ChannelRejected(DeliveryError):
    """The channel's server answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, permanent=permanent, retry_after=retry_after)
        self.status = status
