"""CPU and memory charts of one deployment over a chosen range."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from stackmedic.web.charts import Chart, Line, byte_unit, render

if TYPE_CHECKING:
    from stackmedic.agent import Agent

RANGES = {"1h": 3600.0, "24h": 86400.0}
DEFAULT_RANGE = "1h"


def resource_charts(agent: Agent, name: str, range_key: str) -> dict[str, Markup]:
    """The ``cpu`` and ``memory`` charts of a deployment over ``range_key`` (1h / 24h)."""
    seconds = RANGES.get(range_key, RANGES[DEFAULT_RANGE])
    until = time.time()
    series = agent.resources.series(name, until - seconds, until=until)
    fields: list[str] = series["fields"]
    interval = agent.settings.resources.sample_interval_seconds
    step = interval if series["resolution"] == "raw" else 60.0
    gap = max(step * 3, seconds / 120)
    label = _clock_label if seconds <= 6 * 3600 else _day_label
    cpu = _lines(series, fields.index("cpu_core_percent"), 1.0)
    memory_index = fields.index("memory_bytes")
    largest = max((p[memory_index] or 0 for c in series["containers"] for p in c["points"]),
                  default=0)
    divisor, unit = byte_unit(float(largest))
    memory = _lines(series, memory_index, divisor)
    span = "last hour" if seconds == 3600 else "last 24 hours"
    return {
        "cpu": render(Chart("cpu", f"CPU of {name}, {span} (percent of one core)", cpu,
                            until - seconds, until, "%", gap, label)),
        "memory": render(Chart("memory", f"Memory of {name}, {span}", memory,
                               until - seconds, until, unit, gap, label)),
    }


def _lines(series: dict[str, Any], index: int, divisor: float) -> list[Line]:
    """One line per container from column ``index`` of its points, divided by ``divisor``."""
    lines = []
    for container in series["containers"]:
        points = [
            (float(p[0]), float(p[index]) / divisor)
            for p in container["points"]
            if p[index] is not None
        ]
        lines.append(Line(container["name"] or container["service"], points))
    return lines


def _clock_label(ts: float) -> str:
    return time.strftime("%H:%M", time.localtime(ts))


def _day_label(ts: float) -> str:
    return time.strftime("%a %H:%M", time.localtime(ts))

