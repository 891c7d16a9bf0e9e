"""The words of a spike notice: who, the windowed value and threshold, how long, top users."""

from __future__ import annotations

from datetime import UTC, datetime

from stackmedic.notify.models import NotificationEvent
from stackmedic.notify.types import NotificationKind
from stackmedic.resources import Consumer, SpikeAlert
from stackmedic.types import Severity

DetailValue = str | int | float | None

# metric -> (what it measures, the unit after a value)
METRIC_WORDS: dict[str, tuple[str, str]] = {
    "container_cpu_core_percent": ("CPU", "% of a core"),
    "container_cpu_percent": ("CPU", "% of its CPU limit"),
    "container_cpu_busy_percent": ("CPU", "% busy"),
    "container_memory_percent": ("memory", "% of its limit"),
    "container_memory_bytes": ("memory", "MiB"),
    "host_cpu_percent": ("CPU", "% of all cores"),
    "host_memory_percent": ("memory", "% in use"),
    "host_swap_percent": ("swap", "% in use"),
    "host_disk_percent": ("disk", "% full"),
}
AGGREGATE_WORDS = {"avg": "averaged", "p50": "had a median of", "min": "stayed at or above"}


def from_spike(alert: SpikeAlert) -> NotificationEvent | None:
    """A ``spike`` notification when a resource rule fires, ``spike-resolved`` when it clears."""
    state = str(alert.state)
    if state not in ("firing", "resolved"):
        return None
    where = subject_words(alert)
    what, _ = METRIC_WORDS.get(alert.metric, (alert.metric, ""))
    details: dict[str, DetailValue] = {
        "rule": alert.rule,
        "container": alert.container_name or None,
        "value": f"{quantity(alert.metric, alert.value)} ({window_words(alert)})",
        "threshold": quantity(alert.metric, alert.threshold),
        "clears below": quantity(alert.metric, alert.clear_below),
        "since": _iso(alert.since),
    }
    if alert.top_consumers:
        details["top consumers"] = "\n".join(_consumer(c) for c in alert.top_consumers[:5])
    fingerprint = f"spike:{alert.rule}:{alert.subject}"
    common = dict(deployment=alert.deployment or None, service=alert.service or None,
                  fingerprint=fingerprint)
    if state == "firing":
        judged = _judged(alert)
        return NotificationEvent.model_validate(dict(
            kind=NotificationKind.SPIKE, severity=alert.severity,
            title=f"{where}: {what} {judged} (threshold {_number(alert.threshold)})",
            summary=f"{where}: {what} {judged}, above {quantity(alert.metric, alert.threshold)}"
                    f" ({alert.rule}); it resolves below"
                    f" {quantity(alert.metric, alert.clear_below)}.",
            details=_known(details), **common,
        ))
    lasted = _duration(alert.ts - alert.fired_at) if alert.fired_at is not None else None
    details["fired at"] = _iso(alert.fired_at) if alert.fired_at is not None else None
    details["firing for"] = lasted
    if alert.reason == "container gone":
        ended = f"the container is gone, the {what} spike is over"
    else:
        over = f" over {_duration(alert.window_seconds)}" if alert.window_seconds > 0 else ""
        ended = (f"{what} back to {quantity(alert.metric, alert.value)}{over},"
                 f" below {_number(alert.clear_below)}")
    title = f"{where}: {ended}" + (f", after firing for {lasted}" if lasted else "")
    return NotificationEvent.model_validate(dict(
        kind=NotificationKind.SPIKE_RESOLVED, severity=Severity.INFO, title=title,
        summary=f"{alert.rule} resolved for {where}.", details=_known(details), **common,
    ))


def _known(details: dict[str, DetailValue]) -> dict[str, DetailValue]:
    return {k: v for k, v in details.items() if v is not None}


def subject_words(alert: SpikeAlert) -> str:
    """Who a spike is about: ``deployment/service``, the container, the host or a disk."""
    if alert.deployment:
        return f"{alert.deployment}/{alert.service}" if alert.service else alert.deployment
    if alert.container_name:
        return alert.container_name
    if alert.subject.startswith("disk:"):
        return f"host disk {alert.subject.removeprefix('disk:')}"
    return alert.subject


def window_words(alert: SpikeAlert) -> str:
    """How the value was taken: ``average of 31 samples over 5 min``, or ``latest sample``."""
    if alert.window_seconds <= 0:
        return "latest sample"
    how = {"avg": "average", "p50": "median", "min": "lowest"}.get(alert.aggregate, "average")
    return f"{how} of {alert.samples} samples over {_duration(alert.window_seconds)}"


def quantity(metric: str, value: float) -> str:
    """A value of `metric` with its unit, as people read it."""
    _, unit = METRIC_WORDS.get(metric, (metric, ""))
    if unit == "MiB":
        return f"{value / 2**20:.0f} MiB"
    return f"{value:.1f} {unit}".rstrip()


def _judged(alert: SpikeAlert) -> str:
    value = quantity(alert.metric, alert.value)
    if alert.window_seconds <= 0:
        return f"at {value}"
    verb = AGGREGATE_WORDS.get(alert.aggregate, "averaged")
    return f"{verb} {value} over {_duration(alert.window_seconds)}"


def _number(value: float) -> str:
    return f"{value:g}"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 120:
        return f"{minutes} min" + (f" {rest} s" if rest and minutes < 10 else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _consumer(consumer: Consumer) -> str:
    if consumer.unit == "bytes":
        amount = f"{consumer.value / 2**20:.0f} MiB"
    else:
        amount = f"{consumer.value:.0f} % of a core"
    who = consumer.name or consumer.container_id[:12]
    where = f" ({consumer.deployment}/{consumer.service})" if consumer.deployment else ""
    return f"{who}{where}: {amount}"
