"""Shared names and aliases of the notify package: notification kinds, severity ranks,
clock, event log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from stackmedic.types import EventKind, Severity


class NotificationKind(StrEnum):
    """What a notification is about (routes match on it: ``routes[].kinds``)."""

    ILL_HEALTH = "ill-health"
    RECOVERED = "recovered"
    SPIKE = "spike"
    SPIKE_RESOLVED = "spike-resolved"
    RECOVERY_STARTED = "recovery-started"
    RECOVERY_SUCCEEDED = "recovery-succeeded"
    RECOVERY_GAVE_UP = "recovery-gave-up"
    RESTART_SUMMARY = "restart-summary"
    AGENT_PROBLEM = "agent-problem"
    AGENT_PROBLEM_RESOLVED = "agent-problem-resolved"
    CERTIFICATE = "certificate"  # an HTTPS probe's certificate expires soon or has
    CERTIFICATE_RENEWED = "certificate-renewed"
    TEST = "test"
    LOG_PATTERN = "log-pattern"
    LOG_PATTERN_RESOLVED = "log-pattern-resolved"


Tag = Literal["problem", "resolved", "recovery", "summary", "news", "test"]
"""What a notification is, in its subject and payloads."""
RECOVERY_KINDS: frozenset[NotificationKind] = frozenset({
    NotificationKind.RECOVERY_STARTED, NotificationKind.RECOVERY_SUCCEEDED,
    NotificationKind.RECOVERY_GAVE_UP,
})
DeliveryStatus = Literal["pending", "sending", "retrying", "sent", "dead"]

SEVERITY_RANK: dict[Severity, int] = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}

# Kinds that open a problem: they have a firing state, a repeat interval and a resolution.
FIRING_KINDS: frozenset[NotificationKind] = frozenset({
    NotificationKind.ILL_HEALTH, NotificationKind.SPIKE, NotificationKind.AGENT_PROBLEM,
    NotificationKind.LOG_PATTERN,
    NotificationKind.CERTIFICATE,
})

# The kind that closes each problem kind; a resolving event names the problem's fingerprint.
# Keyed by str: it is also read with the raw input, before the kind is validated.
RESOLVING_KIND: dict[str, NotificationKind] = {
    NotificationKind.RECOVERED: NotificationKind.ILL_HEALTH,
    NotificationKind.SPIKE_RESOLVED: NotificationKind.SPIKE,
    NotificationKind.AGENT_PROBLEM_RESOLVED: NotificationKind.AGENT_PROBLEM,
    NotificationKind.LOG_PATTERN_RESOLVED: NotificationKind.LOG_PATTERN,
    NotificationKind.CERTIFICATE_RENEWED: NotificationKind.CERTIFICATE,
}

Clock = Callable[[], float]
"""Returns the current time as seconds since the epoch (``time.time`` in production)."""


class RecordEvent(Protocol):
    """Writes one entry into the agent event log."""

    def __call__(
        self,
        kind: EventKind,
        message: str,
        *,
        deployment: str | None,
        severity: Severity,
        data: dict[str, Any] | None,
    ) -> object:
        """Record the entry (what it returns is not used)."""


def max_severity(severities: list[Severity], default: Severity = Severity.INFO) -> Severity:
    """Return the most severe of ``severities`` (``default`` when empty)."""
    if not severities:
        return default
    return max(severities, key=lambda s: SEVERITY_RANK[s])


def iso_time(moment: float | None) -> str | None:
    """Format an epoch timestamp as ISO 8601 in UTC (None stays None)."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
