"""Small text formats shared by templates, view models and the live JSON."""

from __future__ import annotations

import time
from datetime import UTC, datetime

VERDICT_COLOURS = {
    "healthy": "ok",
    "starting": "info",
    "stopping": "info",
    "deploying": "info",
    "stopped": "muted",
    "paused": "muted",  # paused on purpose: never an alarm
    "degraded": "warn",
    "unknown": "warn",
    "invalid": "warn",
    "down": "bad",
}


def verdict_tone(verdict: str | None) -> str:
    """The colour class of a verdict: ok / info / muted / warn / bad."""
    return VERDICT_COLOURS.get(verdict or "unknown", "warn")


def ago(ts: float | None, now: float | None = None) -> str:
    """``12 s ago``, ``3 min ago``, ``5 h ago``, ``2 d ago``; an em dash when unknown."""
    if ts is None:
        return "—"
    seconds = (time.time() if now is None else now) - ts
    if seconds < 0:
        return "in " + span(-seconds)
    if seconds < 5:
        return "just now"
    return span(seconds) + " ago"


def span(seconds: float) -> str:
    """A duration in its largest sensible unit: ``45 s``, ``12 min``, ``3 h``, ``2 d``."""
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def when(value: float | str | None) -> str:
    """An absolute local time with its zone (``2024-05-01 12:03:04 UTC``); seconds or ISO."""
    ts = to_timestamp(value)
    if ts is None:
        return "—" if not value else str(value)
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(ts))


def iso(ts: float | None) -> str:
    """An ISO 8601 UTC time for ``<time datetime=...>``; empty when unknown."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def size(value: float | None) -> str:
    """Bytes in binary units: ``512 B``, ``3.4 MiB``, ``1.2 GiB``."""
    if value is None:
        return "—"
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(amount) < 1024 or unit == "TiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"


def percent(value: float | None, digits: int = 1) -> str:
    """``12.3 %``; an em dash when unknown."""
    if value is None:
        return "—"
    return f"{value:.{digits}f} %"


def to_timestamp(value: float | str | None) -> float | None:
    """Epoch seconds from epoch seconds or ISO text (None when neither)."""
    if value is None or value == "":
        return None
    if isinstance(value, float | int):
        return float(value)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
