"""Data that flows through the notifier: events in, rendered messages out, delivery results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stackmedic.notify.types import (
    FIRING_KINDS,
    RECOVERY_KINDS,
    RESOLVING_KIND,
    NotificationKind,
    Tag,
)
from stackmedic.types import Severity

DetailValue = str | int | float | None


def problem_kind(kind: str) -> str:
    """Return the problem kind an event kind belongs to (``recovered`` -> ``ill-health``)."""
    return RESOLVING_KIND.get(kind, kind)


def default_fingerprint(kind: str, deployment: str | None, service: str | None) -> str:
    """Return the fingerprint used when a producer does not give one."""
    parts = [problem_kind(kind), deployment or "-"]
    if service:
        parts.append(service)
    return ":".join(parts)


class NotificationEvent(BaseModel):
    """Something a person may need to hear about, as submitted to the notifier.

    Conventional ``details`` keys, shown in that order before any others: ``reason``,
    ``exit_code``, ``oom_killed``, ``since``, ``container``, ``restart_count``,
    ``action_taken`` (what stackmedic did) and ``next_action`` (what it will do).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: NotificationKind
    severity: Severity
    deployment: str | None = Field(default=None, min_length=1, max_length=200)
    service: str | None = Field(default=None, min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=300)
    summary: str = Field(default="", max_length=10_000)
    details: dict[str, DetailValue] = Field(default_factory=dict)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    fingerprint: str = Field(default="", max_length=500)
    resolves: bool = False

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_kind(cls, data: Any) -> Any:
        """Derive ``resolves`` and ``fingerprint`` from the kind when they are not given."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        kind = data.get("kind")
        if isinstance(kind, str):
            if "resolves" not in data:
                data["resolves"] = kind in RESOLVING_KIND
            if not data.get("fingerprint"):
                data["fingerprint"] = default_fingerprint(
                    kind, data.get("deployment"), data.get("service")
                )
        return data

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        """Treat a naive timestamp as UTC."""
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _consistent(self) -> NotificationEvent:
        """Reject a problem kind that claims to resolve something."""
        if self.resolves and self.kind in FIRING_KINDS:
            raise ValueError(f"resolves: a '{self.kind}' event opens a problem, it cannot resolve")
        return self

    @property
    def is_firing(self) -> bool:
        """True when this event opens or continues a problem."""
        return self.kind in FIRING_KINDS and not self.resolves


class MessageEvent(BaseModel):
    """One event inside a notification, with the identity of the alert it belongs to."""

    model_config = ConfigDict(frozen=True)

    event: NotificationEvent
    alert_severity: Severity
    alert_started_at: datetime
    replaces_severity: Severity | None = None
    note: str | None = None

    @property
    def status(self) -> Literal["firing", "resolved", "info"]:
        """``firing`` for a problem, ``resolved`` for its end, ``info`` for one-off news."""
        if self.event.resolves:
            return "resolved"
        return "firing" if self.event.kind in FIRING_KINDS else "info"

    @property
    def tag(self) -> Tag:
        """What this event is: a problem, a resolution, recovery news, a summary, a test."""
        kind = self.event.kind
        if self.status == "firing":
            return "problem"
        if self.status == "resolved":
            return "resolved"
        if kind == NotificationKind.RESTART_SUMMARY:
            return "summary"
        if kind == NotificationKind.TEST:
            return "test"
        return "recovery" if kind in RECOVERY_KINDS else "news"


class RenderedMessage(BaseModel):
    """A notification ready for a channel: the same content for every channel."""

    model_config = ConfigDict(frozen=True)

    notification_id: int
    idempotency_key: str
    host: str
    deployment: str | None
    severity: Severity
    status: Literal["firing", "resolved", "info"]
    kind: NotificationKind
    title: str
    text: str
    html: str
    created_at: datetime
    events: tuple[MessageEvent, ...]
    silence_command: str | None = None
    public_url: str | None = None
    subject_prefix: str = "[stackmedic]"
    tag: Tag = "news"

    @property
    def label(self) -> str:
        """What the message is, for people: ``CRITICAL PROBLEM``, ``RESOLVED``, ``RECOVERY``."""
        if self.tag == "resolved":
            return "RESOLVED"
        word = "INFO" if self.tag == "news" else self.tag.upper()
        if self.tag == "problem" or (self.severity != "info" and self.tag != "news"):
            return f"{self.severity.upper()} {word}"
        return self.severity.upper() if self.tag == "news" else word

    @property
    def subject(self) -> str:
        """Subject line: prefix, what the message is and what happened."""
        prefix = f"{self.subject_prefix} " if self.subject_prefix else ""
        return f"{prefix}{self.label}: {self.title}"


class DeliveryResult(BaseModel):
    """The outcome of one immediate send to one channel (``send_test``)."""

    channel: str
    kind: str
    ok: bool
    error: str | None = None
    duration_seconds: float
