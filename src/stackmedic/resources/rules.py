"""The spike-rule state machine: inactive -> pending -> firing -> resolved, driven by snapshots.

Pure: time comes from each snapshot, so tests drive it with any clock. Durations (a rule's
``for``, its cooldown) are measured on the snapshot's monotonic tick, so a wall-clock step
neither delays nor hastens an alert; the wall time is only what alerts show.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from stackmedic.resources.config import CONTAINER_METRICS, SpikeRule
from stackmedic.resources.models import (
    HOST_SUBJECT,
    Consumer,
    ContainerSample,
    HostSample,
    Snapshot,
    SpikeAlert,
)

TOP_CONSUMERS = 5


@dataclasses.dataclass(frozen=True, slots=True)
class _Observation:
    subject: str
    value: float | None
    context: dict[str, Any]


class RuleEngine:
    """Tracks every (rule, subject) pair and reports each firing and each resolve once."""

    def __init__(self, rules: Sequence[SpikeRule], *, top_n: int = TOP_CONSUMERS) -> None:
        self._rules = {rule.name: rule for rule in rules}
        self._top_n = top_n
        self._active: dict[tuple[str, str], SpikeAlert] = {}
        self._pending_since: dict[tuple[str, str], float] = {}  # on the monotonic tick
        self._resolved_at: dict[tuple[str, str], float] = {}  # on the monotonic tick

    @property
    def rules(self) -> list[SpikeRule]:
        """The rules being evaluated."""
        return list(self._rules.values())

    def active(self) -> list[SpikeAlert]:
        """Alerts pending or firing now."""
        return list(self._active.values())

    def restore(self, alerts: Iterable[SpikeAlert]) -> None:
        """Take back firing alerts saved before a restart so they are not reported twice."""
        for alert in alerts:
            if alert.rule in self._rules and alert.state == "firing":
                self._active[alert.key] = alert

    def evaluate(self, snapshot: Snapshot) -> list[SpikeAlert]:
        """Advance every rule with one snapshot; return the transitions to report."""
        now, tick = snapshot.ts, snapshot.tick
        events: list[SpikeAlert] = []
        for rule in self._rules.values():
            seen: set[str] = set()
            for obs in _observations(rule, snapshot):
                seen.add(obs.subject)
                if obs.value is None:
                    continue
                event = self._step(rule, obs, now, tick, snapshot)
                if event is not None:
                    events.append(event)
            if rule.metric in CONTAINER_METRICS:
                events.extend(self._drop_gone(rule, seen, now, tick))
        self._expire_cooldowns(tick)
        return events

    def _step(
        self, rule: SpikeRule, obs: _Observation, now: float, tick: float, snapshot: Snapshot
    ) -> SpikeAlert | None:
        key = (rule.name, obs.subject)
        value = float(obs.value or 0.0)
        current = self._active.get(key)
        if current is None:
            if value <= rule.threshold or self._cooling(rule, key, tick):
                return None
            pending = SpikeAlert(
                rule=rule.name,
                severity=rule.severity,
                state="pending",
                metric=rule.metric,
                subject=obs.subject,
                value=value,
                threshold=rule.threshold,
                clear_below=rule.clear_threshold,
                since=now,
                ts=now,
                **obs.context,
            )
            if rule.for_seconds > 0:
                self._active[key] = pending
                self._pending_since[key] = tick
                return None
            current = pending
        if current.state == "pending":
            if value <= rule.threshold:
                del self._active[key]
                self._pending_since.pop(key, None)
                return None
            if tick - self._pending_since.get(key, tick) < rule.for_seconds:
                self._active[key] = dataclasses.replace(current, value=value, ts=now)
                return None
            firing = dataclasses.replace(
                current,
                state="firing",
                value=value,
                ts=now,
                fired_at=now,
                top_consumers=top_consumers(rule.metric, snapshot.containers, self._top_n),
            )
            self._pending_since.pop(key, None)
            self._active[key] = firing
            return firing
        if value < rule.clear_threshold:
            return self._resolve(key, current, value, now, tick, "below clear threshold")
        self._active[key] = dataclasses.replace(current, value=value, ts=now)
        return None

    def _drop_gone(self, rule: SpikeRule, seen: set[str], now: float,
                   tick: float) -> list[SpikeAlert]:
        events = []
        for key, alert in list(self._active.items()):
            if key[0] != rule.name or key[1] in seen:
                continue
            if alert.state == "pending":
                del self._active[key]
                self._pending_since.pop(key, None)
            else:
                events.append(self._resolve(key, alert, alert.value, now, tick,
                                            "container gone"))
        return events

    def _resolve(
        self, key: tuple[str, str], alert: SpikeAlert, value: float, now: float, tick: float,
        reason: str,
    ) -> SpikeAlert:
        del self._active[key]
        self._resolved_at[key] = tick
        return dataclasses.replace(
            alert, state="resolved", value=value, ts=now, resolved_at=now, reason=reason
        )

    def _cooling(self, rule: SpikeRule, key: tuple[str, str], tick: float) -> bool:
        resolved = self._resolved_at.get(key)
        return resolved is not None and tick - resolved < rule.cooldown_seconds

    def _expire_cooldowns(self, tick: float) -> None:
        for key, resolved in list(self._resolved_at.items()):
            rule = self._rules.get(key[0])
            if rule is None or tick - resolved >= rule.cooldown_seconds:
                del self._resolved_at[key]


def _observations(rule: SpikeRule, snapshot: Snapshot) -> list[_Observation]:
    if rule.metric in CONTAINER_METRICS:
        return [
            _Observation(
                subject=s.ref.container_id,
                value=container_value(rule.metric, s),
                context={
                    "deployment": s.ref.deployment,
                    "service": s.ref.service,
                    "container_id": s.ref.container_id,
                    "container_name": s.ref.name,
                },
            )
            for s in snapshot.containers
            if rule.applies_to(s.ref.deployment, s.ref.service)
        ]
    if snapshot.host is None:
        return []
    return [
        _Observation(subject, value, {})
        for subject, value in host_values(rule.metric, snapshot.host)
    ]


def container_value(metric: str, sample: ContainerSample) -> float | None:
    """The value of a container metric in one sample (None when not known yet)."""
    if metric == "container_cpu_percent":
        return sample.cpu_percent
    if metric == "container_cpu_core_percent":
        return sample.cpu_core_percent
    if metric == "container_cpu_busy_percent":
        return busy_percent(sample)
    if metric == "container_memory_percent":
        return sample.memory_percent
    if metric == "container_memory_bytes":
        return float(sample.memory_bytes)
    raise ValueError(f"not a container metric: {metric}")


def busy_percent(sample: ContainerSample) -> float | None:
    """Percent of one core, or of the CPU limit when the limit is below one core.

    Below one core the percent of the limit is the larger figure, at or above one core (or
    without a limit) the percent of one core is, so the larger of the two is the value.
    """
    if sample.cpu_core_percent is None or sample.cpu_percent is None:
        return sample.cpu_core_percent
    return max(sample.cpu_core_percent, sample.cpu_percent)


def host_values(metric: str, host: HostSample) -> list[tuple[str, float | None]]:
    """The (subject, value) pairs of a host metric: one for the host, one per watched disk."""
    if metric == "host_cpu_percent":
        return [(HOST_SUBJECT, host.cpu_percent)]
    if metric == "host_memory_percent":
        return [(HOST_SUBJECT, host.memory_percent)]
    if metric == "host_swap_percent":
        return [(HOST_SUBJECT, host.swap_percent if host.swap_total_bytes else 0.0)]
    if metric == "host_disk_percent":
        return [(f"disk:{d.label}", d.percent) for d in host.disks]
    raise ValueError(f"not a host metric: {metric}")


def top_consumers(
    metric: str, containers: Sequence[ContainerSample], n: int = TOP_CONSUMERS
) -> tuple[Consumer, ...]:
    """The `n` containers using the most of the resource `metric` measures (none for disks)."""
    if "disk" in metric:
        return ()
    unit: Literal["bytes", "percent_of_core"]
    ranked: list[tuple[float, ContainerSample]]
    if "cpu" in metric:
        ranked = [(s.cpu_core_percent, s) for s in containers if s.cpu_core_percent is not None]
        unit = "percent_of_core"
    else:
        ranked = [(float(s.memory_bytes), s) for s in containers]
        unit = "bytes"
    ranked.sort(key=lambda pair: pair[0], reverse=True)
    return tuple(
        Consumer(
            container_id=s.ref.container_id,
            name=s.ref.name,
            deployment=s.ref.deployment,
            service=s.ref.service,
            value=round(value, 3),
            unit=unit,
        )
        for value, s in ranked[:n]
    )
