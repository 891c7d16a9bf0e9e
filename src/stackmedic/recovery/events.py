"""What recovery tells the rest of the agent (published on the bus)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stackmedic.types import EventKind, Severity


@dataclass(frozen=True)
class RecoveryEvent:
    """A recovery transition: started, succeeded, failed, gave-up, cleared, or a summary.

    ``kind`` is one of ``recovery-started``, ``recovery-succeeded``, ``recovery-failed``,
    ``recovery-gave-up``, ``recovery-cleared`` and ``restart-summary``.
    """

    kind: EventKind
    deployment: str | None
    message: str
    severity: Severity = Severity.INFO
    at: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RestartReconcileStarted:
    """A host or daemon restart was detected: a reconcile of every deployment begins.

    Until the ``restart-summary`` ``RecoveryEvent`` that ends it, per-deployment ill-health
    and recovery notices are folded into that one summary.
    """

    kind: str  # "host" or "daemon"
    at: float


@dataclass(frozen=True)
class RestartReconcileFinished:
    """The restart reconcile's runs are over (its summary follows); ``ok`` unless it raised."""

    kind: str
    at: float
    ok: bool = True
