"""The ``notifications:`` section of the agent config."""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stackmedic.notify.channel_config import AlertmanagerChannelConfig, ChannelConfig
from stackmedic.notify.errors import NotifyConfigError
from stackmedic.notify.types import NotificationKind
from stackmedic.types import Severity

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class RouteConfig(BaseModel):
    """One routing rule: which events go to which channels.

    Rules are tried in order; the first match decides unless it says ``continue: true``,
    in which case later rules may add channels. An event matching no rule is not sent.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True
    )

    kinds: list[NotificationKind] | None = None
    """Notification kinds this rule matches; null matches every kind."""
    min_severity: Severity = Severity.INFO
    """Lowest severity this rule matches (info < warning < critical)."""
    deployments: list[str] | None = None
    """Deployment name patterns (shell globs); null matches all, events without one too."""
    channels: list[str] = Field(min_length=1)
    """Channels the matching events go to."""
    continue_: bool = Field(default=False, alias="continue")
    """Keep trying later rules after this one matched."""


class DeploymentOverride(BaseModel):
    """Settings for one deployment that replace the global ones."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = True
    """False: never notify about this deployment."""
    channels: list[str] | None = None
    """Channels for this deployment, replacing the routes."""
    min_severity: Severity | None = None
    """Drop this deployment's events below this severity."""
    group_window_seconds: float | None = Field(default=None, ge=0, le=3600)
    """Grouping window for this deployment."""
    repeat_interval_seconds: float | None = Field(default=None, gt=0)
    """Repeat interval for this deployment."""


class NotifyConfig(BaseModel):
    """Channels, routes, noise control and outbox settings of the notifier."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    """Channels by name; each picks its kind with ``type``."""
    routes: list[RouteConfig] | None = None
    """Routing rules, first match wins; null sends everything to every channel."""
    group_window_seconds: float = Field(default=10.0, ge=0, le=3600)
    """Events of one deployment within this many seconds become one notification."""
    news_hold_seconds: float = Field(default=60.0, ge=0, le=3600)
    """Recovery news that would go out alone (a recovery started after its problem's
    notice went; a deployment healthy again while stackmedic still verifies its recovery)
    waits for the next notice of its deployment (or its recovery's end), at most this long,
    and goes out with it; 0: never waits. Applies only where events are grouped
    (``group_window_seconds`` > 0)."""
    repeat_interval_seconds: float | None = Field(default=4 * 3600.0, gt=0)
    """Remind about a still-firing problem this often; null: never."""
    flap_threshold: int | None = Field(default=4, ge=2)
    """State changes within ``flap_window_seconds`` that make a problem flap; null: off."""
    flap_window_seconds: float = Field(default=600.0, gt=0)
    """Window in which state changes are counted for flap damping."""
    flap_quiet_seconds: float = Field(default=300.0, gt=0)
    """A flapping problem is stable again after this long without a change."""
    retry_initial_seconds: float = Field(default=5.0, gt=0)
    """First retry delay after a failed delivery; doubles per failure."""
    retry_max_seconds: float = Field(default=600.0, gt=0)
    """Longest retry delay."""
    dead_after_seconds: float = Field(default=24 * 3600.0, gt=0)
    """Give a delivery up (dead, with an agent event) this long after it was due."""
    history_days: float = Field(default=30.0, gt=0)
    """Delivered notifications and ended silences are kept this many days."""
    per_deployment: dict[str, DeploymentOverride] = Field(default_factory=dict)
    """Overrides by deployment name."""
    host: str | None = Field(default=None, min_length=1, max_length=200)
    """This agent's host name: shown in messages, the ``host`` label of alerts and of every
    /metrics series; default: this machine's hostname."""
    public_url: str | None = None
    """Dashboard URL linked from messages and used as ``generatorURL``."""

    @model_validator(mode="after")
    def _references(self) -> NotifyConfig:
        """Check channel names, references to channels and related limits."""
        for name in self.channels:
            if not _CHANNEL_NAME.match(name):
                raise ValueError(
                    f"channels: channel name {name!r} must be 1-64 letters, digits, '_', '.', '-'"
                )
        known = set(self.channels)
        for i, route in enumerate(self.routes or []):
            _check_known(f"routes[{i}].channels", route.channels, known)
        for deployment, override in self.per_deployment.items():
            if override.channels is not None:
                _check_known(f"per_deployment.{deployment}.channels", override.channels, known)
        if self.retry_max_seconds < self.retry_initial_seconds:
            raise ValueError("retry_max_seconds: must be at least retry_initial_seconds")
        for name, channel in self.channels.items():
            if (
                isinstance(channel, AlertmanagerChannelConfig)
                and self.repeat_interval_seconds is not None
                and channel.firing_ttl_seconds <= self.repeat_interval_seconds
            ):
                raise ValueError(
                    f"channels.{name}.firing_ttl_seconds: must exceed repeat_interval_seconds "
                    f"({self.repeat_interval_seconds:g}) or Alertmanager resolves the alert "
                    "before the next reminder refreshes it"
                )
        return self

    def host_name(self) -> str:
        """The host name this agent goes by: ``host`` if set, else the machine's hostname."""
        return self.host or socket.gethostname()

    def override_for(self, deployment: str | None) -> DeploymentOverride | None:
        """Return the override of one deployment, if any."""
        return self.per_deployment.get(deployment) if deployment else None

    def group_window_for(self, deployment: str | None) -> float:
        """Return the grouping window that applies to a deployment."""
        override = self.override_for(deployment)
        if override and override.group_window_seconds is not None:
            return override.group_window_seconds
        return self.group_window_seconds

    def repeat_interval_for(self, deployment: str | None) -> float | None:
        """Return the repeat interval that applies to a deployment (None: never repeat)."""
        override = self.override_for(deployment)
        if override and override.repeat_interval_seconds is not None:
            return override.repeat_interval_seconds
        return self.repeat_interval_seconds


def _check_known(where: str, names: list[str], known: set[str]) -> None:
    """Raise when a list refers to a channel that is not configured."""
    for name in names:
        if name not in known:
            configured = ", ".join(sorted(known)) or "none"
            raise ValueError(f"{where}: unknown channel {name!r} (configured: {configured})")


def describe_validation_error(exc: ValidationError, root: str = "notifications") -> str:
    """Render a config validation error as lines ``path.to.field: problem``.

    The channel type tag pydantic adds to the location is dropped, so a line reads
    ``notifications.channels.mail.port: Input should be ...``.
    """
    lines = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        if len(loc) >= 3 and loc[0] == "channels":
            del loc[2]
        path = ".".join([root, *loc])
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    return "\n".join(lines)


def load_notify_config(data: Mapping[str, Any] | None) -> NotifyConfig:
    """Validate the ``notifications`` mapping; raise ``NotifyConfigError`` naming each field."""
    try:
        return NotifyConfig.model_validate(dict(data or {}))
    except ValidationError as exc:
        raise NotifyConfigError(describe_validation_error(exc)) from None
