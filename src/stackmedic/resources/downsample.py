"""Downsampling to 1-minute rows: running sums per series, merged into the store by upsert."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackmedic.resources.ring import Point

MINUTE_FIELDS = (
    "ts",
    "cpu_percent",
    "cpu_percent_max",
    "cpu_core_percent",
    "memory_bytes",
    "memory_bytes_max",
    "memory_limit_bytes",
    "memory_percent",
    "memory_percent_max",
)

MINUTE_UPSERT = """
INSERT INTO resource_samples_minute (series_id, ts, samples, cpu_samples, cpu_percent_avg,
    cpu_percent_max, cpu_core_percent_avg, memory_bytes_avg, memory_bytes_max,
    memory_limit_bytes, memory_percent_avg, memory_percent_max)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (series_id, ts) DO UPDATE SET
    cpu_percent_avg = CASE WHEN cpu_samples + excluded.cpu_samples = 0 THEN NULL ELSE
        (COALESCE(cpu_percent_avg, 0) * cpu_samples
         + COALESCE(excluded.cpu_percent_avg, 0) * excluded.cpu_samples)
        / (cpu_samples + excluded.cpu_samples) END,
    cpu_core_percent_avg = CASE WHEN cpu_samples + excluded.cpu_samples = 0 THEN NULL ELSE
        (COALESCE(cpu_core_percent_avg, 0) * cpu_samples
         + COALESCE(excluded.cpu_core_percent_avg, 0) * excluded.cpu_samples)
        / (cpu_samples + excluded.cpu_samples) END,
    cpu_percent_max = MAX(COALESCE(cpu_percent_max, 0), COALESCE(excluded.cpu_percent_max, 0)),
    memory_bytes_avg = (memory_bytes_avg * samples + excluded.memory_bytes_avg * excluded.samples)
        / (samples + excluded.samples),
    memory_percent_avg = (memory_percent_avg * samples
        + excluded.memory_percent_avg * excluded.samples) / (samples + excluded.samples),
    memory_bytes_max = MAX(memory_bytes_max, excluded.memory_bytes_max),
    memory_percent_max = MAX(memory_percent_max, excluded.memory_percent_max),
    memory_limit_bytes = excluded.memory_limit_bytes,
    cpu_samples = cpu_samples + excluded.cpu_samples,
    samples = samples + excluded.samples
"""


@dataclass(slots=True)
class MinuteBucket:
    """Running sums of one series over one minute."""

    start: float
    samples: int = 0
    cpu_samples: int = 0
    cpu_sum: float = 0.0
    cpu_max: float = 0.0
    core_sum: float = 0.0
    memory_sum: float = 0.0
    memory_max: int = 0
    memory_limit: int = 0
    percent_sum: float = 0.0
    percent_max: float = 0.0

    def add(self, point: Point) -> None:
        """Count one point into the minute."""
        _, cpu, core, memory, limit, percent = point
        self.samples += 1
        if cpu is not None:
            self.cpu_samples += 1
            self.cpu_sum += cpu
            self.cpu_max = max(self.cpu_max, cpu)
            self.core_sum += core or 0.0
        self.memory_sum += memory
        self.memory_max = max(self.memory_max, memory)
        self.memory_limit = limit
        self.percent_sum += percent
        self.percent_max = max(self.percent_max, percent)

    def row(self, series_id: int) -> tuple[Any, ...]:
        """The minute's row for `resource_samples_minute`."""
        cpu_n = self.cpu_samples
        return (
            series_id,
            self.start,
            self.samples,
            cpu_n,
            self.cpu_sum / cpu_n if cpu_n else None,
            self.cpu_max if cpu_n else None,
            self.core_sum / cpu_n if cpu_n else None,
            self.memory_sum / self.samples,
            self.memory_max,
            self.memory_limit,
            self.percent_sum / self.samples,
            self.percent_max,
        )
