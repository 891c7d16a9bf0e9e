"""Settings of the built-in channel kinds, plus the open shape used by plugin channels."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

BUILTIN_KINDS = ("email", "webhook", "alertmanager", "apprise")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _http_url(value: str) -> str:
    """Accept an absolute http(s) URL with a host."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL with a host")
    return value


class ChannelSettings(BaseModel):
    """Base of every channel's settings: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    type: str
    """Channel kind: email, webhook, alertmanager, apprise or a plugin's kind."""


class EmailChannelConfig(ChannelSettings):
    """SMTP delivery: plain, STARTTLS or implicit TLS, optional login, several recipients."""

    type: Literal["email"]
    host: str = Field(min_length=1)
    """SMTP server name or address."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """SMTP port; default 25 (none), 587 (starttls) or 465 (tls)."""
    security: Literal["none", "starttls", "tls"] = "starttls"
    """Plain, STARTTLS upgrade, or implicit TLS."""
    username: str | None = None
    """Login name; needs ``password``."""
    password: SecretStr | None = None
    """Login password (secret)."""
    from_address: str
    """Sender address."""
    to: list[str] = Field(min_length=1)
    """Recipient addresses."""
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    """Connect and command timeout."""
    verify_tls: bool = True
    """Check the server certificate."""
    subject_prefix: str = Field(default="[stackmedic]", max_length=50)
    """Text put before every subject."""

    @field_validator("from_address")
    @classmethod
    def _sender(cls, value: str) -> str:
        """Require an address of the form local@domain."""
        if not _ADDRESS.match(value):
            raise ValueError(f"not an email address: {value!r}")
        return value

    @field_validator("to")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        """Require addresses of the form local@domain."""
        bad = [v for v in value if not _ADDRESS.match(v)]
        if bad:
            raise ValueError(f"not an email address: {', '.join(repr(b) for b in bad)}")
        return value

    @model_validator(mode="after")
    def _login(self) -> EmailChannelConfig:
        """Require username and password together."""
        if self.password is not None and not self.username:
            raise ValueError("field 'username' is required when 'password' is set")
        if self.username and self.password is None:
            raise ValueError("field 'password' is required when 'username' is set")
        return self

    @property
    def effective_port(self) -> int:
        """The configured port, or the usual one for the security mode."""
        if self.port is not None:
            return self.port
        return {"none": 25, "starttls": 587, "tls": 465}[self.security]


class HttpClientSettings(ChannelSettings):
    """Client settings every channel that POSTs over HTTP shares."""

    timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    """Request timeout."""
    verify_tls: bool = True
    """Check the server certificate."""


class HttpChannelSettings(HttpClientSettings):
    """Settings of a channel that POSTs to one URL."""

    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        """Require an absolute http(s) URL."""
        return _http_url(value)


class WebhookChannelConfig(HttpChannelSettings):
    """JSON POST signed with HMAC-SHA256; ``format: alertmanager`` for Alertmanager receivers."""

    type: Literal["webhook"]
    url: str
    """Receiver URL (http or https); keep tokens in ``secret`` or ``headers``."""
    secret: SecretStr | None = None
    """Shared secret for the ``X-Stackmedic-Signature`` HMAC-SHA256 header (secret)."""
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    """Extra request headers, e.g. Authorization (values secret)."""
    format: Literal["stackmedic", "alertmanager"] = "stackmedic"
    """Body shape: stackmedic.notification/v1 or Alertmanager webhook v4."""

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        """Require valid header names and keep the signature header ours."""
        for name in value:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"not a valid header name: {name!r}")
            if name.lower() in ("x-stackmedic-signature", "idempotency-key", "content-type"):
                raise ValueError(f"header {name!r} is set by stackmedic")
        return value


class AlertmanagerChannelConfig(HttpClientSettings):
    """Posts alerts to an Alertmanager's v2 API (``{url}/api/v2/alerts``), or to every member
    of an Alertmanager cluster (``urls``), each member's delivery kept and retried on its own.
    """

    type: Literal["alertmanager"]
    url: str | None = None
    """Alertmanager base URL; alerts go to ``{url}/api/v2/alerts``. Use ``urls`` instead for a
    cluster."""
    urls: list[str] | None = None
    """Base URLs of every member of an Alertmanager cluster (never a load balancer): each
    member gets every alert; a member that is down gets its copy when it is back."""
    username: str | None = None
    """Basic auth user; needs ``password``."""
    password: SecretStr | None = None
    """Basic auth password (secret)."""
    bearer_token: SecretStr | None = None
    """Bearer token instead of basic auth (secret)."""
    extra_labels: dict[str, str] = Field(default_factory=dict)
    """Labels added to every alert, e.g. env."""
    firing_ttl_seconds: float = Field(default=8 * 3600.0, gt=0)
    """A firing alert ends this long after the last post unless refreshed."""

    @field_validator("extra_labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        """Require Prometheus label names that do not clash with ours."""
        reserved = {"alertname", "deployment", "service", "host", "severity"}
        for name in value:
            if not _LABEL_NAME.match(name):
                raise ValueError(f"not a valid label name: {name!r}")
            if name in reserved:
                raise ValueError(f"label {name!r} is set by stackmedic")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        """Require an absolute http(s) URL when set."""
        return None if value is None else _http_url(value)

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str] | None) -> list[str] | None:
        """Require at least one absolute http(s) URL, each once."""
        if value is None:
            return None
        if not value:
            raise ValueError("must list at least one Alertmanager URL")
        for url in value:
            _http_url(url)
        seen = [url.rstrip("/") for url in value]
        twice = sorted({url for url in seen if seen.count(url) > 1})
        if twice:
            raise ValueError(f"lists {', '.join(twice)} more than once")
        return value

    @property
    def members(self) -> list[str]:
        """The base URLs alerts are posted to: ``urls``, or ``url`` as a one-member list."""
        return list(self.urls) if self.urls is not None else [self.url or ""]

    @model_validator(mode="after")
    def _auth(self) -> AlertmanagerChannelConfig:
        """Require ``url`` or ``urls``; allow basic auth (both parts) or a bearer token."""
        if (self.url is None) == (self.urls is None):
            raise ValueError(
                "set either 'url' (one Alertmanager) or 'urls' (every member of a cluster)"
                + (", not both" if self.url is not None else "")
            )
        if (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise ValueError(f"field {missing!r} is required for basic auth")
        if self.password is not None and self.bearer_token is not None:
            raise ValueError("field 'bearer_token' cannot be combined with username/password")
        return self


class AppriseChannelConfig(ChannelSettings):
    """One apprise URL (``slack://...``, ``ntfy://...``, ``json://...``); the URL is secret."""

    type: Literal["apprise"]
    url: SecretStr
    """One apprise URL, e.g. ``ntfy://topic`` (secret)."""
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    """Limit for one delivery."""


class PluginChannelConfig(ChannelSettings):
    """Settings of a channel kind added through the ``stackmedic.channels`` entry points."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(min_length=1)


def _channel_tag(value: Any) -> str:
    """Pick the settings model from the ``type`` key; unknown types go to plugins."""
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in BUILTIN_KINDS else "plugin"


ChannelConfig = Annotated[
    Annotated[EmailChannelConfig, Tag("email")]
    | Annotated[WebhookChannelConfig, Tag("webhook")]
    | Annotated[AlertmanagerChannelConfig, Tag("alertmanager")]
    | Annotated[AppriseChannelConfig, Tag("apprise")]
    | Annotated[PluginChannelConfig, Tag("plugin")],
    Discriminator(_channel_tag),
]
"""The settings of one channel, chosen by its ``type``."""
