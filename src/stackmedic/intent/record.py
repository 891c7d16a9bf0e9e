"""Writes what intent tracking decided, with its evidence, to the event log and the bus."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import structlog

from stackmedic.bus import Bus
from stackmedic.intent.burst import Burst, Judgement
from stackmedic.intent.events import IntentDecided, StopPendingChanged
from stackmedic.store.events import EventLog
from stackmedic.store.pending import StoredStop
from stackmedic.types import DesiredState, EventKind, IntentSource, Severity

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Decision:
    """One judged stop and the evidence behind it."""

    stop: StoredStop
    judgement: Judgement
    how: str  # settle / replaced / stream-end / agent-stop / agent-start
    burst: Burst | None = None
    stream_end: float | None = None

    def evidence(self) -> dict[str, Any]:
        """Times, daemon identity and burst, for a person to see why."""
        s = self.stop
        return {
            "container": s.container_id[:12], "service": s.service, "decided_by": self.how,
            "kill_at": s.kill_at, "die_at": s.die_at, "stop_at": s.stop_at,
            "exit_code": s.exit_code, "daemon": s.daemon, "answered_at": s.answered_at,
            "refused_at": s.refused_at,
            "burst": None if self.burst is None else {
                "start": self.burst.start, "members": self.burst.members,
                "lead": round(self.burst.lead, 4)},
            "stream_end": self.stream_end, "intent": self.judgement.intent,
            "uncertain": self.judgement.uncertain, "reason": self.judgement.reason,
        }


class DecisionLog:
    """Records decisions and pending changes; publishes them when a bus is given."""

    def __init__(self, events: EventLog, bus: Bus | None) -> None:
        self._events = events
        self._bus = bus

    async def publish(self, event: object) -> None:
        """Put one event on the bus (if any)."""
        if self._bus is not None:
            await self._bus.publish(event)

    async def pending_changed(self, deployment: str, pending: bool) -> None:
        """A deployment's pending stops began or ended waiting."""
        await self.publish(StopPendingChanged(deployment, pending, time.time()))

    async def stopped(self, decision: Decision, target: str | None, changed: bool,
                      now: str = "desired state is now stopped") -> None:
        """A stop judged a person's: ``target`` is None when it was started again meanwhile;
        ``now`` says what the desired state is after it."""
        stop, judgement = decision.stop, decision.judgement
        service = None if target in (None, "deployment") else stop.service
        if target is not None and (changed or judgement.uncertain):
            note = ""
            if judgement.uncertain:
                note = (f" (uncertain: {judgement.reason}; if wrong, run "
                        f"`stackmedic start {stop.deployment}`)")
            self._events.record(
                EventKind.INTENT_CHANGED,
                f"{target} stopped outside stackmedic; {now}{note}",
                deployment=stop.deployment, service=service,
                severity=Severity.WARNING if judgement.uncertain else Severity.INFO,
                data={"state": "stopped", "source": IntentSource.OBSERVED_STOP.value,
                      "evidence": decision.evidence()},
            )
            log.info("user stop recorded", deployment=stop.deployment, target=target,
                     uncertain=judgement.uncertain)
        await self.publish(IntentDecided(
            stop.deployment, service, DesiredState.STOPPED if target else DesiredState.RUNNING,
            IntentSource.OBSERVED_STOP.value, target is not None, judgement.uncertain,
            time.time(), judgement.reason,
        ))

    async def ignored(self, decisions: list[Decision], desired: dict[str, DesiredState]) -> None:
        """Stops judged not a person's (a daemon shutdown, a redeploy), one log event per
        deployment."""
        for deployment in sorted({d.stop.deployment for d in decisions}):
            mine = [d for d in decisions if d.stop.deployment == deployment]
            uncertain = any(d.judgement.uncertain for d in mine)
            why = "containers stopped while the Docker daemon was going away"
            if all(d.how == "replaced" for d in mine):
                services = ", ".join(sorted({d.stop.service for d in mine}))
                why = (f"containers of {services} replaced by new ones (a redeploy) that "
                       "have not started")
            self._events.record(
                EventKind.INTENT_IGNORED,
                f"{why}; not taken as a user's stop: {deployment}"
                + (" (uncertain; if it was yours, run "
                   f"`stackmedic stop {deployment}`)" if uncertain else ""),
                deployment=deployment,
                severity=Severity.WARNING if uncertain else Severity.INFO,
                data={"evidence": [d.evidence() for d in mine]},
            )
            for d in mine:
                await self.publish(IntentDecided(
                    deployment, d.stop.service,
                    desired.get(deployment, DesiredState.RUNNING),
                    IntentSource.OBSERVED_STOP.value, False, d.judgement.uncertain,
                    time.time(), d.judgement.reason,
                ))

    async def started(self, deployment: str, target: str, service: str | None) -> None:
        """A start outside stackmedic made the desired state running."""
        self._events.record(
            EventKind.INTENT_CHANGED,
            f"{target} started outside stackmedic; desired state is now running",
            deployment=deployment, service=service,
            data={"state": "running", "source": IntentSource.OBSERVED_START.value},
        )
        await self.publish(IntentDecided(
            deployment, service, DesiredState.RUNNING, IntentSource.OBSERVED_START.value,
            True, False, time.time(), f"{target} started outside stackmedic",
        ))
