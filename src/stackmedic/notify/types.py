"""Shared names and aliases of the notify package: event kinds, severities, clock, event log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, get_args

EventKind = Literal[
    "ill-health",
    "recovered",
    "spike",
    "spike-resolved",
    "recovery-started",
    "recovery-succeeded",
    "recovery-gave-up",
    "restart-summary",
    "agent-problem",
    "agent-problem-resolved",
    "test",
]
Severity = Literal["info", "warning", "critical"]
Tag = Literal["problem", "resolved", "recovery", "summary", "news", "test"]
"""What a notification is, in its subject and payloads."""
RECOVERY_KINDS: frozenset[str] = frozenset(
    {"recovery-started", "recovery-succeeded", "recovery-gave-up"}
)
DeliveryStatus = Literal["pending", "sending", "retrying", "sent", "dead"]

EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)

SEVERITY_RANK: dict[Severity, int] = {"info": 0, "warning": 1, "critical": 2}

# Kinds that open a problem: they have a firing state, a repeat interval and a resolution.
FIRING_KINDS: frozenset[str] = frozenset({"ill-health", "spike", "agent-problem"})

# The kind that closes each problem kind; a resolving event names the problem's fingerprint.
RESOLVING_KIND: dict[str, str] = {
    "recovered": "ill-health",
    "spike-resolved": "spike",
    "agent-problem-resolved": "agent-problem",
}

Clock = Callable[[], float]
"""Returns the current time as seconds since the epoch (``time.time`` in production)."""


class RecordEvent(Protocol):
    """Writes one entry into the agent event log."""

    def __call__(
        self,
        kind: str,
        message: str,
        *,
        deployment: str | None,
        severity: str,
        data: dict[str, Any] | None,
    ) -> object:
        """Record the entry (what it returns is not used)."""


def max_severity(severities: list[Severity], default: Severity = "info") -> Severity:
    """Return the most severe of ``severities`` (``default`` when empty)."""
    if not severities:
        return default
    return max(severities, key=lambda s: SEVERITY_RANK[s])


def iso_time(moment: float | None) -> str | None:
    """Format an epoch timestamp as ISO 8601 in UTC (None stays None)."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
