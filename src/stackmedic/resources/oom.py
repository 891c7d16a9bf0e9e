"""OOM kills: which running containers had one since the last sample, and the evidence."""

from __future__ import annotations

from typing import Any

from stackmedic.resources.models import ContainerSample, Snapshot
from stackmedic.resources.ring import Point


def oom_killed(previous: Snapshot | None, current: Snapshot) -> list[ContainerSample]:
    """Containers whose OOM kill counter rose since the previous snapshot (still running).

    A container new since then counts from zero: a kill between its start and its first
    sample is seen too. The first snapshot of all has nothing to compare with.
    """
    if previous is None:
        return []
    before = {s.ref.container_id: s.oom_kills for s in previous.containers}
    return [
        s
        for s in current.containers
        if s.oom_kills is not None and s.oom_kills > (before.get(s.ref.container_id) or 0)
    ]


def oom_context(
    container_id: str,
    points: list[Point] | None,
    trend: list[tuple[float, int]],
    last: ContainerSample | None,
) -> dict[str, Any]:
    """The memory limit, last and peak use and the trend of a container, as the API shows it."""
    return {
        "container_id": container_id,
        "memory_limit_bytes": points[-1][4] if points else None,
        "last_memory_bytes": trend[-1][1] if trend else None,
        "peak_memory_bytes": max((b for _, b in trend), default=None),
        "last_memory_percent": round(points[-1][5], 3) if points else None,
        "oom_kills": last.oom_kills if last else None,
        "trend": [[ts, b] for ts, b in trend],
    }
