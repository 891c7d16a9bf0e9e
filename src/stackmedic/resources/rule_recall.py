"""Recent samples read back from the store, so that rule windows survive an agent restart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from stackmedic.resources.models import HOST_SUBJECT
from stackmedic.resources.ring import Point
from stackmedic.resources.rule_values import busy

if TYPE_CHECKING:
    from stackmedic.store.db import Database


LAST_SEEN_LAG = 120.0  # a series' last_seen is written once a minute, so it may lag

@dataclass(frozen=True, slots=True)
class RecalledSeries:
    """The stored points of the host or of one container since a time, oldest first."""

    kind: Literal["host", "container"]
    subject: str
    deployment: str
    service: str
    rows: list[Point]


def recall(db: Database, since: float) -> list[RecalledSeries]:
    """Every series' raw samples taken at or after `since` (wall clock)."""
    found = []
    for series in db.fetchall(
        "SELECT id, kind, container_id, deployment, service FROM resource_series"
        " WHERE last_seen >= ?",
        (since - LAST_SEEN_LAG,),
    ):
        rows = db.fetchall(
            "SELECT ts, cpu_percent, cpu_core_percent, memory_bytes, memory_limit_bytes,"
            " memory_percent FROM resource_samples_raw WHERE series_id = ? AND ts >= ?"
            " ORDER BY ts",
            (series["id"], since),
        )
        if not rows:
            continue
        host = series["kind"] == "host"
        found.append(RecalledSeries(
            kind="host" if host else "container",
            subject=HOST_SUBJECT if host else str(series["container_id"]),
            deployment=str(series["deployment"]),
            service=str(series["service"]),
            rows=[(float(r[0]), r[1], r[2], int(r[3]), int(r[4]), float(r[5])) for r in rows],
        ))
    return found


def stored_value(metric: str, row: Point) -> float | None:
    """A rule metric's value in a stored point; None for what the store does not keep.

    Host rows hold the host's CPU percent of all cores and its memory percent; disks and
    swap are not kept, so their rules start from the next sample.
    """
    _, cpu_percent, core_percent, memory_bytes, _, memory_percent = row
    values: dict[str, float | None] = {
        "container_cpu_percent": cpu_percent,
        "container_cpu_core_percent": core_percent,
        "container_cpu_busy_percent": busy(core_percent, cpu_percent),
        "container_memory_percent": memory_percent,
        "container_memory_bytes": float(memory_bytes),
        "host_cpu_percent": cpu_percent,
        "host_memory_percent": memory_percent,
    }
    return values.get(metric)
