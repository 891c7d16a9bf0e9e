"""Ill episodes: when a deployment's problem opens and ends, and which notices say so (pure).

An *episode* opens at a deployment's first ill verdict (down, degraded, invalid) and ends
at its first fine one (healthy, or stopped as desired), whatever the path in between
(``starting``, ``stopping``, ``deploying``, ``unknown`` change nothing). Each episode gives
one problem notice and one resolved notice; inside an open episode only a change of severity
is told again (the notifier's repeat interval reminds about the rest).

Notices are *held* during a restart reconcile and while the engine's event stream is down
(until the first connection tells whether a restart reconcile follows): an episode opened
then is *folded*, and told with the restart summary (one notification) if it is still open
when the summary comes; one that ends during the hold is told by the summary alone, and so
is recovery news. When the stream comes back without a reconcile, what was held is told
as it would have been, in order.

A fine verdict after a failing healthcheck ends the episode only once it has held for the
transition's ``settle_for`` (``health.flaps``): a healthcheck that fails again sooner is
flapping, and the flap stays one episode, its resolved notice naming the flap.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from stackmedic.alerts.messages import (
    HEALTHCHECK_ONLY,
    from_recovery,
    problem_event,
    resolved_event,
)
from stackmedic.health.model import HealthTransition
from stackmedic.notify.models import NotificationEvent
from stackmedic.notify.types import NotificationKind
from stackmedic.recovery.events import RecoveryEvent
from stackmedic.types import EventKind, Severity

RECOVERY_BUSY = EventKind.RECOVERY_STARTED
RECOVERY_DONE = frozenset({
    EventKind.RECOVERY_SUCCEEDED, EventKind.RECOVERY_FAILED, EventKind.RECOVERY_GAVE_UP,
    EventKind.RECOVERY_CLEARED,
})


@dataclass(frozen=True)
class Episode:
    """One deployment's open ill episode."""

    opened_at: float
    severity: Severity
    event: NotificationEvent  # the latest problem event, told again with a summary if folded
    folded: bool = False  # opened while notices were held: not told yet
    resumed: bool = False  # a healthcheck's, told before the agent restarted, not ill since


@dataclass(frozen=True)
class Submit:
    """Hand one event to the notifier."""

    event: NotificationEvent


@dataclass(frozen=True)
class SubmitSummary:
    """Hand a restart summary to the notifier with the held notices inside it."""

    summary: NotificationEvent
    members: tuple[NotificationEvent, ...]


@dataclass(frozen=True)
class ResolveLater:
    """Ask ``resolve_due`` after ``delay`` whether the episode that turned fine at ``since``
    has ended (a failing healthcheck's problem ends once it has passed for a while)."""

    deployment: str
    delay: float
    since: float


@dataclass(frozen=True)
class ReleaseNews:
    """The deployment's recovery ended: news waiting for its next notice may go."""

    deployment: str


Outgoing = Submit | SubmitSummary | ResolveLater | ReleaseNews


@dataclass
class Episodes:
    """Open episodes per deployment and whether notices are held, with their transitions."""

    recovery_note: str | None = None
    # What a flap was is lost with the agent: a healthcheck's episode told before it
    # restarted ends only once its deployment held fine this long (``health.flap_seconds``).
    resume_settle: float = 0.0
    open: dict[str, Episode] = field(default_factory=dict)
    reconciling: bool = False
    stream_down: bool = False
    recovering: set[str] = field(default_factory=set)
    held_resolutions: dict[str, NotificationEvent] = field(default_factory=dict)
    held: list[NotificationEvent] = field(default_factory=list)  # in order, if no summary comes
    settling: dict[str, HealthTransition] = field(default_factory=dict)  # fine, not yet ended

    @property
    def holding(self) -> bool:
        """Whether per-deployment notices are held back now."""
        return self.reconciling or self.stream_down

    def on_health(self, transition: HealthTransition) -> list[Outgoing]:
        """A verdict changed: open, update or end the deployment's episode."""
        name = transition.deployment
        verdict = transition.verdict
        episode = self.open.get(name)
        settling = self.settling.get(name)
        if verdict.ill:
            self.settling.pop(name, None)  # ill again before it settled: the same episode
            event = problem_event(transition, recovery_note=self.recovery_note)
            severity = verdict.severity
            if episode is None:
                self.open[name] = Episode(transition.at, severity, event, folded=self.holding)
                return self._hold(event) if self.holding else [Submit(event)]
            self.open[name] = replace(episode, severity=severity, event=event, resumed=False)
            told_again = (
                severity != episode.severity
                and not self.holding
                and not episode.folded
                and name not in self.recovering
            )
            return [Submit(event)] if told_again else []
        if not verdict.fine or episode is None:
            return []
        if settling is not None:
            self.settling[name] = replace(transition, at=settling.at)  # told as it is now
            return []
        settle_for = transition.settle_for
        if episode.resumed:
            settle_for = max(settle_for, self.resume_settle)
        # While the stream is down the settling goes on (its end is held if need be); a
        # restart reconcile's summary says what is back, so an episode ends at once then.
        if settle_for > 0 and not self.reconciling and not episode.folded:
            self.settling[name] = transition
            return [ResolveLater(name, settle_for, transition.at)]
        return self._end(name, episode, transition)

    def resolve_due(self, name: str, since: float) -> list[Outgoing]:
        """The verdict that turned fine at ``since`` has held: end the episode, unless it
        turned ill again meanwhile."""
        transition = self.settling.get(name)
        episode = self.open.get(name)
        if transition is None or transition.at != since:
            return []
        del self.settling[name]
        if episode is None:
            return []
        return self._end(name, episode, transition)

    def _end(self, name: str, episode: Episode, transition: HealthTransition) -> list[Outgoing]:
        del self.open[name]
        event = resolved_event(transition)
        if episode.folded:
            return self._hold(event)  # opened and ended within the hold: a summary tells it
        if self.holding:
            self.held_resolutions[name] = event
            return self._hold(event)
        return [Submit(event)]

    def _hold(self, event: NotificationEvent) -> list[Outgoing]:
        self.held.append(event)
        return []

    def on_recovery(self, event: RecoveryEvent) -> list[Outgoing]:
        """Recovery news: told unless held; a restart summary ends a reconcile."""
        name = event.deployment
        if event.kind == RECOVERY_BUSY and name is not None:
            self.recovering.add(name)
        elif event.kind in RECOVERY_DONE and name is not None:
            self.recovering.discard(name)
        done: list[Outgoing] = [ReleaseNews(name)] if event.kind in RECOVERY_DONE \
            and name is not None else []
        notification = from_recovery(event)
        if event.kind == EventKind.RESTART_SUMMARY:
            self.reconciling = False
            members = self._fold(_next_steps(event))
            if notification is None:
                return [Submit(m) for m in members]
            return [SubmitSummary(notification, tuple(members))]
        if notification is None:
            return done
        if self.holding and name is not None:
            return self._hold(notification)
        return [Submit(notification), *done]

    def reconcile_started(self) -> None:
        """A host or daemon restart reconcile began: hold notices until its summary."""
        self.reconciling = True

    def stream_lost(self) -> None:
        """The engine's event stream ended: hold notices until it is back."""
        self.stream_down = True

    def stream_back(self) -> list[Outgoing]:
        """The stream is back and no reconcile began: tell what was held, in order."""
        self.stream_down = False
        if self.holding:
            return []
        held, self.held = self.held, []
        self.held_resolutions.clear()
        # An episode still open is told as it is now, not as it began.
        last = {e.deployment: i for i, e in enumerate(held)
                if e.kind == NotificationKind.ILL_HEALTH}
        for name, episode in self.open.items():
            if episode.folded and name in last:
                held[last[name]] = episode.event
            self.open[name] = replace(episode, folded=False)
        return [Submit(event) for event in held]

    def give_up_holding(self) -> list[Outgoing]:
        """The summary never came: tell what was held, one by one."""
        self.reconciling = False
        return self.stream_back()

    def resume(self, name: str, opened_at: float, severity: Severity,
               event: NotificationEvent) -> None:
        """An episode told before the agent restarted is still open."""
        # What a flap was is lost with the agent: a healthcheck's problem waits the flap
        # time before it ends; any other ends at its first fine verdict, as always.
        flap = event.details.get("failing") == HEALTHCHECK_ONLY
        self.open[name] = Episode(opened_at, severity, event, resumed=flap)

    def removed(self, name: str) -> None:
        """The deployment is gone: its episode ends with it."""
        self.open.pop(name, None)
        self.settling.pop(name, None)
        self.held_resolutions.pop(name, None)
        self.held = [e for e in self.held if e.deployment != name]
        self.recovering.discard(name)

    def _fold(self, next_steps: dict[str, str]) -> list[NotificationEvent]:
        """What a summary must carry: ends of told episodes, episodes still open, each
        open one saying what comes next as the summary does (never a promise to recover
        what the summary says gave up)."""
        for name, transition in sorted(self.settling.items()):
            episode = self.open.pop(name, None)
            if episode is not None:  # fine since before the reconcile: the summary ends it
                self.held_resolutions[name] = resolved_event(transition)
        self.settling.clear()
        members = sorted(self.held_resolutions.values(), key=lambda e: e.occurred_at)
        self.held_resolutions.clear()
        self.held.clear()
        for name, episode in sorted(self.open.items()):
            if episode.folded:
                members.append(_with_next(episode.event, next_steps.get(name)))
                self.open[name] = replace(episode, folded=False)
        return members


def _next_steps(summary: RecoveryEvent) -> dict[str, str]:
    """What the summary says comes next for each deployment still down."""
    items = summary.details.get("still_down") or []
    return {str(i["deployment"]): str(i["next"]) for i in items
            if isinstance(i, dict) and i.get("next")}


def _with_next(event: NotificationEvent, step: str | None) -> NotificationEvent:
    """``event`` with its next action replaced by ``step`` (dropped when None)."""
    if "next_action" not in event.details and step is None:
        return event
    details = {k: v for k, v in event.details.items() if k != "next_action"}
    if step is not None:
        details["next_action"] = step
    return event.model_copy(update={"details": details})
