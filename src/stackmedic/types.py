"""Shared names for states and sources used across the agent."""

from __future__ import annotations

from enum import StrEnum


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
