"""The agent's shared vocabulary: states, sources, severities, event-log kinds and run
outcomes (values are stored and answered as they are: never change one), and its clock."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Protocol, TypeVar

_Word = TypeVar("_Word", bound=StrEnum)


class DesiredState(StrEnum):
    """What the user wants a deployment (or service) to be."""

    RUNNING = "running"
    STOPPED = "stopped"


class IntentSource(StrEnum):
    """Who or what last changed a desired state."""

    API = "api"
    CLI = "cli"
    WEB = "web"
    OBSERVED_STOP = "observed-stop"
    OBSERVED_START = "observed-start"
    FIRST_SEEN = "first-seen"


class Severity(StrEnum):
    """How much attention an event deserves."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class EventKind(StrEnum):
    """What one entry of the agent's event log (``agent_events.kind``) is about."""

    AGENT_STARTED = "agent-started"
    AGENT_STOPPED = "agent-stopped"
    DOCKER_CONNECTED = "docker-connected"
    DOCKER_DISCONNECTED = "docker-disconnected"
    EVENTS_DROPPED = "events-dropped"
    RESTART_DETECTED = "restart-detected"
    RESTART_SUMMARY = "restart-summary"
    DEPLOYMENT_FOUND = "deployment-found"
    DEPLOYMENT_CHANGED = "deployment-changed"
    DEPLOYMENT_GONE = "deployment-gone"
    HEALTH_CHANGED = "health-changed"
    HEALTHCHECKS_RUN_BY_STACKMEDIC = "healthchecks-run-by-stackmedic"
    HEALTHCHECKS_RUN_BY_PODMAN = "healthchecks-run-by-podman"
    INTENT_CHANGED = "intent-changed"
    INTENT_CONFIRMED = "intent-confirmed"
    INTENT_IGNORED = "intent-ignored"
    ACTION = "action"
    ACTION_FAILED = "action-failed"
    RECOVERY_STARTED = "recovery-started"
    RECOVERY_ACTION = "recovery-action"
    RECOVERY_SUCCEEDED = "recovery-succeeded"
    RECOVERY_FAILED = "recovery-failed"
    RECOVERY_GAVE_UP = "recovery-gave-up"
    RECOVERY_CLEARED = "recovery-cleared"
    NOTIFICATION_DEAD = "notification-dead"
    LOGIN_FAILED = "login-failed"
    API_TOKEN_REFUSED = "api-token-refused"


class RunOutcome(StrEnum):
    """How a recovery run ended (``recovery_runs.outcome`` and ``RunResult.outcome``)."""

    RUNNING = "running"  # stored while the run is open
    RECOVERED = "recovered"
    FAILED = "failed"
    GAVE_UP = "gave-up"
    NOTHING_TO_DO = "nothing-to-do"
    TIMED_OUT = "timed-out"
    CANCELLED = "cancelled"  # stored: the desired state changed before acting
    INTERRUPTED = "interrupted"  # stored: cancelled, failed midway, or left by a stopped agent
    SKIPPED = "skipped"  # a result only: no run was opened (not wanted running, gave up)
    DEFERRED = "deferred"  # a result only: a stop is being judged, or intent changed


class ProbeKind(StrEnum):
    """What an endpoint probe asks (``stackmedic.probe.http`` / ``stackmedic.probe.tcp``)."""

    HTTP = "http"
    TCP = "tcp"


class ProbeFailure(StrEnum):
    """Why an endpoint probe failed, in one word."""

    STATUS = "status"  # an unexpected HTTP status
    BODY = "body"  # the expected text is not in the answer
    TIMEOUT = "timeout"
    REFUSED = "refused"
    TLS = "tls"  # handshake or certificate refused
    NETWORK = "network"  # unreachable, reset, closed early
    NAMESPACE = "namespace"  # the container's network namespace could not be entered


def parse_word(vocabulary: type[_Word], value: str, what: str) -> _Word:
    """``value`` as a member of ``vocabulary``; a ValueError names it and every known one."""
    try:
        return vocabulary(value)
    except ValueError:
        known = ", ".join(vocabulary)
        raise ValueError(f"unknown {what} {value!r}; known: {known}") from None


class Clock(Protocol):
    """Where the agent reads time: monotonic for every wait, wall only for display and
    for comparing with the engine's own times."""

    def wall(self) -> float:
        """Seconds since the epoch (steps with NTP; never use for a wait)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps (for waits, deadlines and windows)."""
        ...


class SystemClock:
    """The host's clocks."""

    def wall(self) -> float:
        """``time.time()``."""
        return time.time()

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()


SYSTEM_CLOCK: Clock = SystemClock()
