"""Recording health transitions: a history row, an event-log row and a log line per change."""

from __future__ import annotations

import structlog

from stackmedic.health.history import HealthHistory, LastKnown
from stackmedic.health.model import DeploymentHealth, HealthTransition
from stackmedic.store.events import EventLog
from stackmedic.types import Clock, EventKind

log = structlog.get_logger(__name__)


class TransitionRecorder:
    """What was last reported of each deployment, and the record of each real change.

    It starts from the newest stored transitions, so that an agent restart reports only
    what changed while it was away.
    """

    def __init__(self, history: HealthHistory, events: EventLog, clock: Clock) -> None:
        self._history = history
        self._events = events
        self._clock = clock
        self._reported: dict[str, LastKnown] = history.last_known()
        self.count = 0  # transitions recorded since the start

    def record(self, name: str, health: DeploymentHealth) -> HealthTransition | None:
        """Store a transition if ``health`` differs from the last one reported."""
        signature = health.signature()
        last = self._reported.get(name)
        if last is not None and last.signature == signature:
            return None
        at = self._clock.wall()
        previous = last.verdict if last else None
        since = last.since if last is not None and previous is health.verdict else at
        self._reported[name] = LastKnown(health.verdict, since, signature)
        history_id = self._history.record(health, previous, at)
        before = dict(last.signature[1]) if last else {}
        changed = tuple(n for n, status in signature[1] if before.get(n) != status)
        arrow = f"{previous.value} -> " if previous else ""
        self._events.record(
            EventKind.HEALTH_CHANGED,
            f"{arrow}{health.verdict.value}: {health.reason}",
            deployment=name,
            severity=health.verdict.severity,
            data={
                "verdict": health.verdict.value,
                "previous": previous.value if previous else None,
                "reason": health.reason,
                "services": {s.name: s.status.value for s in health.services},
                "changed_services": list(changed),
                "history_id": history_id,
            },
            at=at,
        )
        self.count += 1
        log.info(
            "health changed",
            deployment=name,
            verdict=health.verdict.value,
            previous=previous.value if previous else None,
            reason=health.reason,
        )
        return HealthTransition(name, previous, health, at, history_id, changed)

    def since(self, name: str, current: DeploymentHealth | None) -> float | None:
        """When the deployment entered its reported verdict, if ``current`` still has it."""
        last = self._reported.get(name)
        if last is None or current is None or last.verdict is not current.verdict:
            return None
        return last.since
