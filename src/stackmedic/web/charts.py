"""Line charts of resource series drawn as inline SVG on the server."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

Point = tuple[float, float]  # (unix time, value)

WIDTH = 640
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 14, 30
MAX_POINTS = 360
PALETTE_SIZE = 6


@dataclass(frozen=True)
class Line:
    """One series: a label (a container or service) and its points, oldest first."""

    label: str
    points: Sequence[Point]


@dataclass(frozen=True)
class Chart:
    """What to draw: lines over a time window, values already in ``unit``."""

    key: str  # unique on the page, used for element ids
    title: str
    lines: Sequence[Line]
    since: float
    until: float
    unit: str
    gap_seconds: float  # points further apart than this are not joined
    time_label: Callable[[float], str]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= ``value`` (min 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def byte_unit(largest: float) -> tuple[float, str]:
    """The divisor and name of the binary unit that fits ``largest`` bytes."""
    divisor, name = 1.0, "B"
    for candidate in ("KiB", "MiB", "GiB", "TiB"):
        if largest < divisor * 1024:
            break
        divisor, name = divisor * 1024, candidate
    return divisor, name


def thin(points: Sequence[Point], since: float, until: float, limit: int) -> list[Point]:
    """At most ``limit`` points: the mean of each of ``limit`` equal time slices."""
    if len(points) <= limit or until <= since:
        return list(points)
    width = (until - since) / limit
    buckets: dict[int, list[Point]] = {}
    for ts, value in points:
        buckets.setdefault(min(limit - 1, int((ts - since) / width)), []).append((ts, value))
    return [
        (sum(p[0] for p in group) / len(group), sum(p[1] for p in group) / len(group))
        for _, group in sorted(buckets.items())
    ]


def segments(points: Sequence[Point], gap: float) -> list[list[Point]]:
    """Split a series where two neighbours are more than ``gap`` seconds apart."""
    found: list[list[Point]] = []
    for point in points:
        if not found or point[0] - found[-1][-1][0] > gap:
            found.append([])
        found[-1].append(point)
    return found


def _label(value: float, unit: str) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
    return f"{text} {unit}"


def render(chart: Chart) -> Markup:
    """An accessible ``<svg>``, one ``<polyline>`` per unbroken segment, and its legend."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    window = max(chart.until - chart.since, 1.0)
    lines = [
        Line(line.label, thin(line.points, chart.since, chart.until, MAX_POINTS))
        for line in chart.lines
    ]
    largest = max((v for line in lines for _, v in line.points), default=0.0)
    top = nice_ceiling(largest)

    def x(ts: float) -> float:
        return LEFT + max(0.0, min(1.0, (ts - chart.since) / window)) * plot_w

    def y(value: float) -> float:
        return TOP + plot_h * (1 - max(0.0, min(value, top)) / top)

    title_id, desc_id = f"chart-{chart.key}-title", f"chart-{chart.key}-desc"
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" data-chart="{escape(chart.key)}" '
        f'data-lines="{len(lines)}">',
        f'<title id="{title_id}">{escape(chart.title)}</title>',
        f'<desc id="{desc_id}">{escape(describe(lines, chart.unit))}</desc>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        level = TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{level:.1f}" '
            f'y2="{level:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{level + 4:.1f}" text-anchor="end">'
            f"{escape(_label(top * fraction, chart.unit))}</text>"
        )
    for fraction, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        ts = chart.since + window * fraction
        parts.append(
            f'<text class="axis" x="{LEFT + plot_w * fraction:.1f}" y="{HEIGHT - 8}" '
            f'text-anchor="{anchor}">{escape(chart.time_label(ts))}</text>'
        )
    if not any(line.points for line in lines):
        parts.append(
            f'<text class="empty" x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" '
            'text-anchor="middle">No samples in this period yet</text>'
        )
    for index, line in enumerate(lines):
        for segment in segments(line.points, chart.gap_seconds):
            coords = " ".join(f"{x(ts):.1f},{y(v):.1f}" for ts, v in segment)
            parts.append(
                f'<polyline class="series s{index % PALETTE_SIZE}" '
                f'data-series="{escape(line.label)}" data-points="{len(segment)}" '
                f'points="{coords}"/>'
            )
    parts.append("</svg>")
    if lines:
        parts.append('<ul class="legend">')
        for index, line in enumerate(lines):
            parts.append(
                f'<li><span class="swatch s{index % PALETTE_SIZE}" aria-hidden="true"></span>'
                f"{escape(line.label)}</li>"
            )
        parts.append("</ul>")
    return Markup("".join(parts))


def describe(lines: Sequence[Line], unit: str) -> str:
    """A text summary for screen readers: latest and peak value per line."""
    said = []
    for line in lines:
        if line.points:
            latest, peak = line.points[-1][1], max(v for _, v in line.points)
            said.append(
                f"{line.label}: latest {_label(round(latest, 1), unit)}, "
                f"peak {_label(round(peak, 1), unit)}"
            )
    return "; ".join(said) or "no samples"
