"""The in-memory rings and the raw / 1-minute history in SQLite."""

from __future__ import annotations

import pytest

from stackmedic.resources.history import MINUTE_FIELDS, RAW_FIELDS, ResourceHistory
from stackmedic.store import Database

from .samples import MIB, container, host, snapshot

T0 = 1_800_000_000.0  # a minute boundary


def make(db: Database, **overrides: float) -> ResourceHistory:
    settings: dict[str, float] = {
        "ring_size": 5,
        "raw_retention_seconds": 3600,
        "minute_retention_seconds": 7 * 86400,
        "ring_keep_seconds": 600,
    }
    settings.update(overrides)
    return ResourceHistory(
        db,
        ring_size=int(settings["ring_size"]),
        raw_retention_seconds=settings["raw_retention_seconds"],
        minute_retention_seconds=settings["minute_retention_seconds"],
        ring_keep_seconds=settings["ring_keep_seconds"],
    )


def record_minutes(history: ResourceHistory, minutes: int, step: float = 10) -> None:
    """One container `a` in shop, CPU and memory rising by sample, plus the host."""
    count = int(minutes * 60 / step)
    for i in range(count):
        ts = T0 + i * step
        history.record(
            snapshot(
                ts,
                container(ts, "a", cpu=float(i), memory_bytes=i * MIB),
                host_sample=host(ts),
            )
        )


def test_ring_is_bounded_and_keeps_the_newest(db: Database) -> None:
    history = make(db)
    record_minutes(history, 2)
    ring = history.ring("a")
    assert len(ring) == 5
    assert [p[0] for p in ring] == [T0 + i * 10 for i in range(7, 12)]
    assert len(history.ring("host")) == 5
    assert history.memory_trend("a") == [(T0 + i * 10, i * MIB) for i in range(7, 12)]


def test_raw_series_of_a_deployment(db: Database) -> None:
    history = make(db)
    record_minutes(history, 2)
    history.record(snapshot(T0 + 200, container(T0 + 200, "b", deployment="blog")))
    series = history.series("shop", T0 + 30, T0 + 200)
    assert series["resolution"] == "raw" and series["fields"] == list(RAW_FIELDS)
    (only,) = series["containers"]
    assert (only["container_id"], only["service"]) == ("a", "web")
    assert [p[0] for p in only["points"]] == [T0 + i * 10 for i in range(3, 12)]
    first = dict(zip(RAW_FIELDS, only["points"][0], strict=True))
    assert first["cpu_percent"] == 3.0 and first["memory_bytes"] == 3 * MIB


def test_minute_averages_and_maxima(db: Database) -> None:
    history = make(db)
    record_minutes(history, 3)
    history.flush()
    series = history.series("shop", T0 - 86400 * 2, T0 + 180)
    assert series["resolution"] == "minute" and series["fields"] == list(MINUTE_FIELDS)
    (only,) = series["containers"]
    rows = [dict(zip(MINUTE_FIELDS, p, strict=True)) for p in only["points"]]
    assert [r["ts"] for r in rows] == [T0, T0 + 60, T0 + 120]
    assert rows[0]["cpu_percent"] == pytest.approx(2.5)  # mean of 0..5
    assert rows[0]["cpu_percent_max"] == 5.0
    assert rows[1]["memory_bytes"] == pytest.approx(8.5 * MIB)
    assert rows[1]["memory_bytes_max"] == 11 * MIB


def test_a_flushed_partial_minute_merges_with_the_rest(db: Database) -> None:
    history = make(db)
    for i in range(3):
        history.record(snapshot(T0 + i * 10, container(T0, "a", cpu=10.0)))
    history.flush()
    for i in range(3, 6):
        history.record(snapshot(T0 + i * 10, container(T0, "a", cpu=40.0)))
    history.flush()
    row = db.fetchone("SELECT * FROM resource_samples_minute")
    assert row is not None
    assert row["samples"] == 6 and row["cpu_percent_avg"] == pytest.approx(25.0)


def test_retention_prunes_rows_series_and_rings(db: Database) -> None:
    history = make(
        db, raw_retention_seconds=60, minute_retention_seconds=300, ring_keep_seconds=100
    )
    record_minutes(history, 2)
    history.flush()
    now = T0 + 119
    history.prune(now)
    raw_ts = [r["ts"] for r in db.fetchall("SELECT ts FROM resource_samples_raw ORDER BY ts")]
    assert min(raw_ts) >= now - 60
    assert db.fetchone("SELECT COUNT(*) AS n FROM resource_samples_minute")["n"] == 4  # type: ignore[index]
    history.prune(T0 + 1000)
    assert db.fetchall("SELECT * FROM resource_samples_raw") == []
    kinds = [r["kind"] for r in db.fetchall("SELECT kind FROM resource_series")]
    assert kinds == ["host"]
    assert history.ring("a") == []


def test_memory_trend_falls_back_to_the_store(db: Database) -> None:
    record_minutes(make(db), 1)
    fresh = make(db)
    assert fresh.memory_trend("a") == [(T0 + i * 10, i * MIB) for i in range(1, 6)]
    assert fresh.memory_trend("a", since=T0 + 45) == [(T0 + 50, 5 * MIB)]
    assert fresh.memory_trend("nope") == []
