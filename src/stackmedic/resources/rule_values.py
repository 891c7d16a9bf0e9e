"""What a rule reads from a snapshot: each subject's value, and the top consumers."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

from stackmedic.resources.config import CONTAINER_METRICS, SpikeRule
from stackmedic.resources.models import (
    HOST_SUBJECT,
    Consumer,
    ContainerSample,
    HostSample,
    Snapshot,
)

TOP_CONSUMERS = 5


@dataclasses.dataclass(frozen=True, slots=True)
class Observation:
    """One subject's value of a rule's metric in one snapshot, with who it is."""

    subject: str
    value: float | None
    context: dict[str, Any]


def observations(rule: SpikeRule, snapshot: Snapshot) -> list[Observation]:
    """Each subject the rule covers in `snapshot`, with its value (None when unknown)."""
    if rule.metric in CONTAINER_METRICS:
        return [
            Observation(
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
        Observation(subject, value, {})
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
    """Percent of one core, or of the CPU limit when the limit is below one core."""
    return busy(sample.cpu_core_percent, sample.cpu_percent)


def busy(core_percent: float | None, limit_percent: float | None) -> float | None:
    """The busy figure from the percent of one core and the percent of the limit.

    Below one core the percent of the limit is the larger figure, at or above one core (or
    without a limit) the percent of one core is, so the larger of the two is the value.
    """
    if core_percent is None or limit_percent is None:
        return core_percent
    return max(core_percent, limit_percent)


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
