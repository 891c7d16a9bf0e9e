"""CPU and memory charts of one deployment over a chosen range."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from stackmedic.web.charts import Chart, Line, byte_unit, render

if TYPE_CHECKING:
    from stackmedic.readmodel import AgentView

RANGES = {"1h": 3600.0, "24h": 86400.0}
DEFAULT_RANGE = "1h"


def resource_charts(agent: AgentView, name: str, range_key: str) -> dict[str, Markup]:
    """The ``cpu`` and ``memory`` charts of a deployment over ``range_key`` (1h / 24h)."""
    seconds = RANGES.get(range_key, RANGES[DEFAULT_RANGE])
    until = time.time()
    series = agent.resources.series(name, until - seconds, until=until)
    fields: list[str] = series["fields"]
    interval = agent.settings.resources.sample_interval_seconds
    step = interval if series["resolution"] == "raw" else 60.0
    gap = max(step * 3, seconds / 120)
    first = min((p[0] for c in series["containers"] for p in c["points"][:1]), default=None)
    # A younger history starts the axis at its first sample (some samples' width before now).
    shortest = max(10 * interval, 10.0)
    start = min(max(until - seconds, float(first)), until - shortest) if first else until - seconds
    label = time_label(until - start)
    cpu = lines_by_name(series, fields.index("cpu_core_percent"), 1.0)
    memory_index = fields.index("memory_bytes")
    largest = max((p[memory_index] or 0 for c in series["containers"] for p in c["points"]),
                  default=0)
    divisor, unit = byte_unit(float(largest))
    memory = lines_by_name(series, memory_index, divisor)
    span = "last hour" if seconds == 3600 else "last 24 hours"
    return {
        "cpu": render(Chart("cpu", f"CPU of {name}, {span} (percent of one core)", cpu,
                            start, until, "%", gap, label)),
        "memory": render(Chart("memory", f"Memory of {name}, {span}", memory,
                               start, until, unit, gap, label)),
    }


# Compose renames a container it is about to replace to "<12 hex digits>_<its name>".
RECREATE_PREFIX = re.compile(r"^[0-9a-f]{12}_")


def lines_by_name(series: dict[str, Any], index: int, divisor: float) -> list[Line]:
    """One line per container name from column ``index``, divided by ``divisor``.

    A recreated container keeps its name but not its id: its samples join the same line
    (the time between them shows as a gap), so the legend names it once. While Compose
    recreates it, the old container is briefly renamed ``<short id>_<name>``; that name
    joins the line too.
    """
    by_label: dict[str, list[tuple[float, float]]] = {}
    for container in series["containers"]:
        label = RECREATE_PREFIX.sub("", container["name"] or "") or container["service"]
        points = by_label.setdefault(label, [])
        points += [
            (float(p[0]), float(p[index]) / divisor)
            for p in container["points"]
            if p[index] is not None
        ]
    return [Line(label, sorted(points)) for label, points in by_label.items()]


def time_label(window: float) -> Callable[[float], str]:
    """Axis labels with seconds for short windows and the weekday for long ones."""
    pattern = "%H:%M:%S" if window < 600 else "%H:%M" if window <= 6 * 3600 else "%a %H:%M"
    return lambda ts: time.strftime(pattern, time.localtime(ts))

