"""Noise control for problems (pure, no I/O): repeat interval, resolution pairing, flap damping.

A *problem* is identified by an event's fingerprint. Problem kinds (ill-health, spike,
agent-problem) make it fire, resolving events (recovered, ...) resolve it. Each problem
remembers what people were last told, so the notifier can decide:

- a new firing problem is sent; while it keeps firing, the same fingerprint is sent again
  only when its severity changes or the repeat interval has passed;
- a resolution is sent only when the firing was sent; it goes where the firing went;
- a problem that changes state ``flap_threshold`` times within ``flap_window`` is
  *flapping*: the change that starts it is sent with a note, later changes are held until
  the problem has been quiet for ``flap_quiet``, then its final state is sent if people
  were told otherwise;
- during a silence nothing is sent, and when it ends a problem whose state differs from
  what people were told is sent (``follow_up``), like a reminder.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from stackmedic.notify.models import NotificationEvent
from stackmedic.types import Severity

ProblemStatus = Literal["firing", "resolved"]


@dataclass(frozen=True)
class FlapPolicy:
    """When a problem counts as flapping and when it counts as stable again."""

    threshold: int | None = 4
    window: float = 600.0
    quiet: float = 300.0


@dataclass(frozen=True)
class ProblemState:
    """What is known about one fingerprint, and what people were told about it."""

    fingerprint: str
    deployment: str | None
    service: str | None
    status: ProblemStatus
    severity: Severity
    started_at: float
    changed_at: float
    last_event: NotificationEvent
    notified_status: ProblemStatus | None = None
    notified_severity: Severity | None = None
    notified_at: float | None = None
    channels: tuple[str, ...] = ()
    changes: tuple[float, ...] = field(default_factory=tuple)
    flapping: bool = False


@dataclass(frozen=True)
class Decision:
    """Whether to send an event, why, and the problem state to keep afterwards."""

    send: bool
    reason: str
    state: ProblemState | None = None
    event: NotificationEvent | None = None
    note: str | None = None
    alert_severity: Severity | None = None
    alert_started_at: datetime | None = None
    replaces_severity: Severity | None = None


def _epoch(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _change(state: ProblemState, now: float, flap: FlapPolicy) -> tuple[ProblemState, bool]:
    """Record a state change at ``now``; return the state and whether flapping just began."""
    changes = tuple(t for t in (*state.changes, now) if now - t <= flap.window)
    state = replace(state, changes=changes, changed_at=now)
    starts = flap.threshold is not None and not state.flapping and len(changes) >= flap.threshold
    return (replace(state, flapping=True) if starts else state), starts


def mark_sent(state: ProblemState, now: float, channels: list[str]) -> ProblemState:
    """Return the state after people were told its current status."""
    kept = tuple(channels) if state.status == "firing" else state.channels
    return replace(
        state,
        notified_status=state.status,
        notified_severity=state.severity,
        notified_at=now,
        channels=kept,
    )


def on_event(
    previous: ProblemState | None,
    event: NotificationEvent,
    now: float,
    *,
    repeat_interval: float | None,
    flap: FlapPolicy,
    silenced: bool,
) -> Decision:
    """Decide about one submitted event; one-off news is always sent unless silenced."""
    if not event.is_firing and not event.resolves:
        return Decision(send=not silenced, reason="silenced" if silenced else "one-off")
    if event.resolves:
        return _on_resolve(previous, event, now, flap=flap, silenced=silenced)
    return _on_firing(previous, event, now, repeat_interval, flap, silenced)


def _on_firing(
    previous: ProblemState | None,
    event: NotificationEvent,
    now: float,
    repeat_interval: float | None,
    flap: FlapPolicy,
    silenced: bool,
) -> Decision:
    """Decide about a problem event."""
    started_at = event.occurred_at.timestamp()
    if previous is None:
        state = ProblemState(
            fingerprint=event.fingerprint,
            deployment=event.deployment,
            service=event.service,
            status="firing",
            severity=event.severity,
            started_at=started_at,
            changed_at=now,
            last_event=event,
        )
        state, flap_starts = _change(state, now, flap)
    elif previous.status == "resolved":
        state = replace(
            previous,
            status="firing",
            severity=event.severity,
            started_at=started_at,
            last_event=event,
        )
        state, flap_starts = _change(state, now, flap)
    else:
        state = replace(previous, severity=event.severity, last_event=event)
        flap_starts = False
    if silenced:
        return _verdict(False, "silenced", state, event)
    if flap_starts:
        note = _flap_note(state, flap)
        return _verdict(True, "flapping-started", state, event, note=note)
    if state.flapping:
        return _verdict(False, "flapping", state, event)
    return _firing_verdict(state, event, now, repeat_interval, note=None)


def _firing_verdict(
    state: ProblemState,
    event: NotificationEvent,
    now: float,
    repeat_interval: float | None,
    note: str | None,
) -> Decision:
    """Send a firing problem that is new to people, changed severity, or is due a repeat."""
    if state.notified_status != "firing":
        return _verdict(True, "new", state, event, note=note)
    if state.notified_severity != state.severity:
        return _verdict(
            True, "severity-changed", state, event, note=note, replaces=state.notified_severity
        )
    due = (
        repeat_interval is not None
        and state.notified_at is not None
        and now - state.notified_at >= repeat_interval
    )
    if due:
        since = _epoch(state.started_at).strftime("%Y-%m-%d %H:%M UTC")
        reminder = note or f"still failing since {since}"
        return _verdict(True, "repeat", state, event, note=reminder)
    return _verdict(False, "repeat-interval", state, event)


def _on_resolve(
    previous: ProblemState | None,
    event: NotificationEvent,
    now: float,
    *,
    flap: FlapPolicy,
    silenced: bool,
) -> Decision:
    """Decide about a resolving event."""
    if previous is None or previous.status == "resolved":
        return Decision(False, "not-firing", previous)
    state = replace(previous, status="resolved", last_event=event)
    state, flap_starts = _change(state, now, flap)
    severity = previous.notified_severity or previous.severity
    if silenced:
        return _verdict(False, "silenced", state, event, severity=severity)
    if state.notified_status != "firing":
        reason = "flapping" if state.flapping else "not-notified"
        return _verdict(False, reason, state, event, severity=severity)
    if flap_starts:
        note = _flap_note(state, flap)
        return _verdict(True, "flapping-started", state, event, note=note, severity=severity)
    if state.flapping:
        return _verdict(False, "flapping", state, event, severity=severity)
    return _verdict(True, "resolved", state, event, severity=severity)


def _verdict(
    send: bool,
    reason: str,
    state: ProblemState,
    event: NotificationEvent,
    *,
    severity: Severity | None = None,
    note: str | None = None,
    replaces: Severity | None = None,
) -> Decision:
    """Build a decision whose alert identity comes from the problem state."""
    return Decision(
        send,
        reason,
        state,
        event,
        note=note,
        alert_severity=severity or state.severity,
        alert_started_at=_epoch(state.started_at),
        replaces_severity=replaces,
    )


def _flap_note(state: ProblemState, flap: FlapPolicy) -> str:
    """Explain that further changes are held back."""
    return (
        f"flapping: {len(state.changes)} changes within {_minutes(flap.window)}; "
        f"further changes are held until it has been stable for {_minutes(flap.quiet)}"
    )


def follow_up(
    state: ProblemState,
    now: float,
    *,
    repeat_interval: float | None,
    flap: FlapPolicy,
    silenced: bool,
) -> Decision | None:
    """Decide what a problem needs without a new event: flap end, silence end, reminder.

    Returns None when nothing changes; a decision with ``send=False`` when only the stored
    state changes (flapping ended and people already know the final state).
    """
    if silenced:
        return None
    note = None
    if state.flapping:
        if now - state.changed_at < flap.quiet:
            return None
        state = replace(state, flapping=False, changes=())
        quiet = _minutes(now - state.changed_at)
        note = f"stable again after flapping: {state.status} for {quiet}"
    event = state.last_event
    if state.status == "firing":
        decision = _firing_verdict(state, event, now, repeat_interval, note=note)
        if decision.send or note is not None:
            return decision
        return None
    if state.notified_status == "firing":
        severity = state.notified_severity or state.severity
        return _verdict(True, "resolved", state, event, note=note, severity=severity)
    return Decision(False, "settled", state) if note is not None else None


def forgettable(state: ProblemState, now: float, flap: FlapPolicy) -> bool:
    """True when a resolved problem no longer matters, even for flap counting."""
    return (
        state.status == "resolved"
        and state.notified_status != "firing"
        and not state.flapping
        and now - state.changed_at > flap.window
    )
