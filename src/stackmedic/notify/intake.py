"""Intake: from a submitted event (or a due follow-up) to rows in the outbox."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import structlog

from stackmedic.notify.config import NotifyConfig
from stackmedic.notify.models import MessageEvent, NotificationEvent
from stackmedic.notify.noise import (
    Decision,
    FlapPolicy,
    ProblemState,
    follow_up,
    forgettable,
    mark_sent,
    on_event,
)
from stackmedic.notify.outbox import Outbox
from stackmedic.notify.problems import ProblemStore
from stackmedic.notify.routing import Router
from stackmedic.notify.silences import SilenceStore
from stackmedic.store.db import Database


@dataclass(frozen=True)
class Outcome:
    """What became of one event: queued for some channels, or suppressed and why."""

    reason: str
    channels: tuple[str, ...] = ()
    notification_id: int | None = None

    @property
    def queued(self) -> bool:
        """True when the event is now in the outbox."""
        return self.notification_id is not None


class Intake:
    """Applies silences, routing, noise control and grouping, then writes to the outbox.

    Everything here is synchronous: one event is decided and stored without yielding to
    the loop, so two events cannot interleave their read-modify-write of a problem.
    """

    def __init__(
        self,
        config: NotifyConfig,
        db: Database,
        outbox: Outbox,
        problems: ProblemStore,
        silences: SilenceStore,
        channels: Collection[str],
    ) -> None:
        self._config = config
        self._db = db
        self._outbox = outbox
        self._problems = problems
        self._silences = silences
        self._channels = set(channels)
        self._router = Router(config)
        self._flap = FlapPolicy(
            threshold=config.flap_threshold,
            window=config.flap_window_seconds,
            quiet=config.flap_quiet_seconds,
        )
        self._log = structlog.get_logger(__name__)

    def accept(self, event: NotificationEvent, now: float) -> Outcome:
        """Decide about one event and queue it when it is to be sent."""
        log = self._log.bind(kind=event.kind, deployment=event.deployment, service=event.service)
        if not self._router.deployment_enabled(event.deployment):
            log.debug("notification dropped", reason="deployment-disabled")
            return Outcome("deployment-disabled")
        silenced = self._silences.is_silenced(event.deployment, now)
        if not event.is_firing and not event.resolves:
            if silenced:
                log.info("notification suppressed", reason="silenced")
                return Outcome("silenced")
            item = MessageEvent(
                event=event, alert_severity=event.severity, alert_started_at=event.occurred_at
            )
            return self._queue(item, self._router.channels_for(event), now, "one-off", log)
        previous = self._problems.get(event.fingerprint)
        decision = on_event(
            previous,
            event,
            now,
            repeat_interval=self._config.repeat_interval_for(event.deployment),
            flap=self._flap,
            silenced=silenced,
        )
        return self._apply(decision, now, log)

    def accept_summary(
        self, summary: NotificationEvent, members: list[NotificationEvent], now: float
    ) -> Outcome:
        """Queue a one-off summary and the members worth sending as one notification.

        Each member goes through noise control like a submitted event; those to be sent
        ride in the summary's notification, to its channels and their own.
        """
        log = self._log.bind(kind=summary.kind)
        channels = self._router.channels_for(summary)
        if self._silences.is_silenced(summary.deployment, now):
            channels = []
        items: list[MessageEvent] = []
        states: list[ProblemState] = []
        for event in members:
            if not self._router.deployment_enabled(event.deployment):
                continue
            decision = on_event(
                self._problems.get(event.fingerprint),
                event,
                now,
                repeat_interval=self._config.repeat_interval_for(event.deployment),
                flap=self._flap,
                silenced=self._silences.is_silenced(event.deployment, now),
            )
            state = decision.state
            if state is None:
                continue
            if decision.send and decision.event is not None:
                if event.resolves:
                    told = [c for c in state.channels if c in self._channels]
                else:
                    told = self._router.channels_for(event)
                if told:
                    state = mark_sent(state, now, told)
                    channels += [c for c in told if c not in channels]
                    items.append(self._item(decision))
            states.append(state)
        if not channels:
            for state in states:
                self._problems.save(state)
            log.info("notification suppressed", reason="no-route")
            return Outcome("no-route")
        lead = MessageEvent(
            event=summary, alert_severity=summary.severity, alert_started_at=summary.occurred_at
        )
        with self._db.transaction() as conn:
            for state in states:
                self._problems.save(state, conn)
            notification_id = self._outbox.add(conn, lead, channels, now, 0.0, single=True)
            for item in items:
                self._outbox.add(conn, item, channels, now, 0.0, into=notification_id)
        log.info("notification queued", reason="summary", notification_id=notification_id,
                 channels=channels, members=len(items))
        return Outcome("summary", tuple(channels), notification_id)

    @staticmethod
    def _item(decision: Decision) -> MessageEvent:
        """The event of a decision to send, with its alert identity."""
        assert decision.event is not None
        return MessageEvent(
            event=decision.event,
            alert_severity=decision.alert_severity or decision.event.severity,
            alert_started_at=decision.alert_started_at or decision.event.occurred_at,
            replaces_severity=decision.replaces_severity,
            note=decision.note,
        )

    def sweep(self, now: float) -> list[Outcome]:
        """Send what problems need without new events: reminders, flap and silence ends."""
        outcomes = []
        for state in self._problems.all():
            silenced = self._silences.is_silenced(state.deployment, now)
            decision = follow_up(
                state,
                now,
                repeat_interval=self._config.repeat_interval_for(state.deployment),
                flap=self._flap,
                silenced=silenced,
            )
            if decision is not None:
                log = self._log.bind(fingerprint=state.fingerprint, deployment=state.deployment)
                outcomes.append(self._apply(decision, now, log))
            elif forgettable(state, now, self._flap):
                self._problems.forget(state.fingerprint)
        return outcomes

    def _apply(self, decision: Decision, now: float, log: Any) -> Outcome:
        """Store the decision's problem state and queue its event when it is to be sent."""
        state = decision.state
        channels: list[str] = []
        if decision.send and state is not None and decision.event is not None:
            if decision.event.resolves or state.status == "resolved":
                channels = [c for c in state.channels if c in self._channels]
            else:
                channels = self._router.channels_for(decision.event)
            state = mark_sent(state, now, channels)
        if not decision.send or decision.event is None or not channels:
            if state is not None:
                self._problems.save(state)
            reason = decision.reason if not decision.send else "no-channel"
            log.info("notification suppressed", reason=reason)
            return Outcome(reason)
        return self._queue(self._item(decision), channels, now, decision.reason, log, state)

    def _queue(
        self,
        item: MessageEvent,
        channels: list[str],
        now: float,
        reason: str,
        log: Any,
        state: ProblemState | None = None,
    ) -> Outcome:
        """Write the event (and the problem state, atomically) into the outbox."""
        if not channels:
            log.info("notification suppressed", reason="no-route")
            return Outcome("no-route")
        window = self._config.group_window_for(item.event.deployment)
        with self._db.transaction() as conn:
            if state is not None:
                self._problems.save(state, conn)
            notification_id = self._outbox.add(conn, item, channels, now, window,
                                               hold=self._config.news_hold_seconds)
        log.info(
            "notification queued",
            reason=reason,
            notification_id=notification_id,
            channels=channels,
        )
        return Outcome(reason, tuple(channels), notification_id)
