"""The spike-rule state machine: inactive -> pending -> firing -> resolved, on windowed values.

Each (rule, subject) keeps the samples of the rule's window (``for_seconds``). At every
snapshot the window's aggregate (avg by default, p50 or min) is compared with the rule:

- not firing: above ``threshold`` once the samples reach back over the whole window ->
  firing; above it while they do not yet -> pending (shown, never notified);
- firing: below ``clear_below`` -> resolved; anything else keeps it firing.

Pure: time comes from each snapshot, so tests drive it with any clock. Windows and
cooldowns are measured on the snapshot's monotonic tick, so a wall-clock step neither
delays nor hastens an alert; the wall time is only what alerts show.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from stackmedic.resources.config import CONTAINER_METRICS, SpikeRule
from stackmedic.resources.models import Snapshot, SpikeAlert
from stackmedic.resources.rule_recall import RecalledSeries, stored_value
from stackmedic.resources.rule_values import (
    TOP_CONSUMERS,
    Observation,
    observations,
    top_consumers,
)
from stackmedic.resources.window import SampleWindow, WindowValue

Key = tuple[str, str]


class RuleEngine:
    """Tracks every (rule, subject) pair and reports each firing and each resolve once."""

    def __init__(self, rules: Sequence[SpikeRule], *, top_n: int = TOP_CONSUMERS) -> None:
        self._rules = {rule.name: rule for rule in rules}
        self._top_n = top_n
        self._active: dict[Key, SpikeAlert] = {}
        self._windows: dict[Key, SampleWindow] = {}
        self._resolved_at: dict[Key, float] = {}  # on the monotonic tick

    @property
    def rules(self) -> list[SpikeRule]:
        """The rules being evaluated."""
        return list(self._rules.values())

    @property
    def longest_window(self) -> float:
        """The longest window of any rule, in seconds (what a restart should recall)."""
        return max((rule.for_seconds for rule in self._rules.values()), default=0.0)

    @property
    def longest_cooldown(self) -> float:
        """The longest cooldown of any rule, in seconds (what a restart should recall)."""
        return max((rule.cooldown_seconds for rule in self._rules.values()), default=0.0)

    def active(self) -> list[SpikeAlert]:
        """Alerts pending or firing now."""
        return list(self._active.values())

    def restore(self, alerts: Iterable[SpikeAlert], tick_offset: float = 0.0) -> None:
        """Take back alerts saved before a restart (wall ts + `tick_offset` = tick).

        Firing ones stay firing, so they are not reported twice; recently resolved ones
        go on cooling down.
        """
        for alert in alerts:
            if alert.rule not in self._rules:
                continue
            if alert.state == "firing":
                self._active[alert.key] = alert
            elif alert.state == "resolved" and alert.resolved_at is not None:
                tick = alert.resolved_at + tick_offset
                self._resolved_at[alert.key] = max(tick, self._resolved_at.get(alert.key, tick))

    def prime(self, series: Iterable[RecalledSeries], tick_offset: float) -> int:
        """Fill the windows from stored samples (wall ts + `tick_offset` = tick).

        After a restart the rules go on from the samples taken before it instead of waiting
        a whole window again. Returns how many points were taken.
        """
        taken = 0
        for one in series:
            for rule in self._rules.values():
                if not _covers(rule, one):
                    continue
                window = self._window(rule, one.subject)
                for row in one.rows:
                    value = stored_value(rule.metric, row)
                    if value is not None:
                        window.add(row[0] + tick_offset, value)
                        taken += 1
        for key, alert in list(self._active.items()):
            self._active[key] = self._rejudged(key, alert)
        return taken

    def _rejudged(self, key: Key, alert: SpikeAlert) -> SpikeAlert:
        """A restored alert with the value its window holds (the store keeps transitions)."""
        window, rule = self._windows.get(key), self._rules.get(key[0])
        if window is None or rule is None:
            return alert
        judged = window.value(rule.aggregate)
        if judged is None:
            return alert
        return dataclasses.replace(alert, value=judged.value, samples=judged.samples)

    def evaluate(self, snapshot: Snapshot) -> list[SpikeAlert]:
        """Advance every rule with one snapshot; return the transitions to report."""
        events: list[SpikeAlert] = []
        for rule in self._rules.values():
            seen: set[str] = set()
            for obs in observations(rule, snapshot):
                seen.add(obs.subject)
                if obs.value is None:
                    continue
                window = self._window(rule, obs.subject)
                window.add(snapshot.tick, float(obs.value))
                judged = window.value(rule.aggregate)
                if judged is None:
                    continue
                event = self._step(rule, obs, judged, snapshot)
                if event is not None:
                    events.append(event)
            if rule.metric in CONTAINER_METRICS:
                events.extend(self._drop_gone(rule, seen, snapshot))
        self._expire_cooldowns(snapshot.tick)
        return events

    def _window(self, rule: SpikeRule, subject: str) -> SampleWindow:
        key = (rule.name, subject)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = SampleWindow(rule.for_seconds)
        return window

    def _step(
        self, rule: SpikeRule, obs: Observation, judged: WindowValue, snapshot: Snapshot
    ) -> SpikeAlert | None:
        key = (rule.name, obs.subject)
        now, tick = snapshot.ts, snapshot.tick
        current = self._active.get(key)
        if current is not None and current.state == "firing":
            current = _judged(current, judged, now)
            if judged.value < rule.clear_threshold:
                return self._resolve(key, current, tick, "below clear threshold")
            self._active[key] = current
            return None
        if judged.value <= rule.threshold or self._cooling(rule, key, tick):
            self._active.pop(key, None)
            return None
        if current is None:
            current = SpikeAlert(
                rule=rule.name, severity=rule.severity, state="pending", metric=rule.metric,
                subject=obs.subject, value=judged.value, threshold=rule.threshold,
                clear_below=rule.clear_threshold, since=now - judged.covered_seconds, ts=now,
                aggregate=rule.aggregate, window_seconds=rule.for_seconds,
                samples=judged.samples, **obs.context,
            )
        current = _judged(current, judged, now)
        if not judged.covered:
            self._active[key] = current
            return None
        firing = dataclasses.replace(
            current, state="firing", since=now - judged.covered_seconds, fired_at=now,
            top_consumers=top_consumers(rule.metric, snapshot.containers, self._top_n),
        )
        self._active[key] = firing
        return firing

    def _drop_gone(self, rule: SpikeRule, seen: set[str], snapshot: Snapshot) -> list[SpikeAlert]:
        events = []
        for key in [k for k in self._windows if k[0] == rule.name and k[1] not in seen]:
            del self._windows[key]
        for key, alert in list(self._active.items()):
            if key[0] != rule.name or key[1] in seen:
                continue
            if alert.state == "pending":
                del self._active[key]
            else:
                gone = dataclasses.replace(alert, ts=snapshot.ts)
                events.append(self._resolve(key, gone, snapshot.tick, "container gone"))
        return events

    def _resolve(self, key: Key, alert: SpikeAlert, tick: float, reason: str) -> SpikeAlert:
        del self._active[key]
        self._resolved_at[key] = tick
        return dataclasses.replace(alert, state="resolved", resolved_at=alert.ts, reason=reason)

    def _cooling(self, rule: SpikeRule, key: Key, tick: float) -> bool:
        resolved = self._resolved_at.get(key)
        return resolved is not None and tick - resolved < rule.cooldown_seconds

    def _expire_cooldowns(self, tick: float) -> None:
        for key, resolved in list(self._resolved_at.items()):
            rule = self._rules.get(key[0])
            if rule is None or tick - resolved >= rule.cooldown_seconds:
                del self._resolved_at[key]


def _judged(alert: SpikeAlert, judged: WindowValue, now: float) -> SpikeAlert:
    return dataclasses.replace(alert, value=judged.value, samples=judged.samples, ts=now)


def _covers(rule: SpikeRule, series: RecalledSeries) -> bool:
    if rule.metric in CONTAINER_METRICS:
        return series.kind == "container" and rule.applies_to(series.deployment, series.service)
    return series.kind == "host"
