"""Resource history: a bounded in-memory ring per series plus raw and 1-minute rows in SQLite."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

from stackmedic.resources.downsample import MINUTE_FIELDS, MINUTE_UPSERT, MinuteBucket
from stackmedic.resources.models import HOST_SUBJECT, ContainerRef, Snapshot
from stackmedic.resources.ring import Point, SeriesRing

if TYPE_CHECKING:
    from stackmedic.store.db import Database

Resolution = Literal["auto", "raw", "minute"]

RAW_FIELDS = (
    "ts",
    "cpu_percent",
    "cpu_core_percent",
    "memory_bytes",
    "memory_limit_bytes",
    "memory_percent",
)


class ResourceHistory:
    """Keeps recent points in memory and writes raw and per-minute rows to the store."""

    def __init__(
        self,
        db: Database,
        *,
        ring_size: int,
        raw_retention_seconds: float,
        minute_retention_seconds: float,
        ring_keep_seconds: float,
        max_retired_rings: int = 1000,
    ) -> None:
        self._db = db
        self._ring_size = ring_size
        self.raw_retention_seconds = raw_retention_seconds
        self.minute_retention_seconds = minute_retention_seconds
        self._ring_keep_seconds = ring_keep_seconds
        self._max_retired = max_retired_rings
        self._rings: dict[str, SeriesRing] = {}
        self._ring_seen: dict[str, float] = {}
        self._series: dict[str, tuple[int, ContainerRef | None]] = {}
        self._minutes: dict[int, MinuteBucket] = {}
        self._minute_start: float | None = None
        self._last_ts = 0.0

    def record(self, snapshot: Snapshot) -> None:
        """Append one snapshot to the rings, the raw table and the minute buckets."""
        ts = snapshot.ts
        points: list[tuple[str, ContainerRef | None, Point]] = []
        if snapshot.host is not None:
            h = snapshot.host
            core = None if h.cpu_percent is None else h.cpu_percent * h.cpu_count
            points.append(
                (
                    HOST_SUBJECT,
                    None,
                    (
                        ts,
                        h.cpu_percent,
                        core,
                        h.memory_used_bytes,
                        h.memory_total_bytes,
                        h.memory_percent,
                    ),
                )
            )
        for s in snapshot.containers:
            point = (
                ts,
                s.cpu_percent,
                s.cpu_core_percent,
                s.memory_bytes,
                s.memory_limit_bytes,
                s.memory_percent,
            )
            points.append((s.ref.container_id, s.ref, point))
        rows = []
        finished: list[tuple[int, MinuteBucket]] = []
        minute_start = ts - ts % 60
        if minute_start != self._minute_start:
            finished, self._minutes = list(self._minutes.items()), {}
            self._minute_start = minute_start
        self._last_ts = ts
        with self._db.transaction() as conn:
            for key, ref, point in points:
                ring = self._rings.get(key)
                if ring is None:
                    ring = self._rings[key] = SeriesRing(self._ring_size)
                ring.append(point)
                self._ring_seen[key] = ts
                series_id = self._series_id(conn, key, ref, ts)
                rows.append((series_id, *point))
                bucket = self._minutes.get(series_id)
                if bucket is None:
                    bucket = self._minutes[series_id] = MinuteBucket(minute_start)
                bucket.add(point)
            conn.executemany(
                "INSERT OR REPLACE INTO resource_samples_raw VALUES (?, ?, ?, ?, ?, ?, ?)", rows
            )
            if finished:
                conn.executemany(MINUTE_UPSERT, [b.row(sid) for sid, b in finished])
                conn.executemany(
                    "UPDATE resource_series SET last_seen = ? WHERE id = ?",
                    [(ts, sid) for sid, _ in finished],
                )

    def flush(self) -> None:
        """Write every partial minute (on shutdown); later samples of the minute merge in."""
        buckets, self._minutes = self._minutes, {}
        if buckets:
            with self._db.transaction() as conn:
                conn.executemany(MINUTE_UPSERT, [b.row(sid) for sid, b in buckets.items()])

    def ring(self, key: str) -> list[Point]:
        """Recent points of a container (by id) or of the host (`host`), oldest first."""
        ring = self._rings.get(key)
        return ring.points() if ring is not None else []

    def memory_trend(
        self, container_id: str, since: float | None = None
    ) -> list[tuple[float, int]]:
        """Recent (ts, memory bytes) of a container, from memory or else from the raw table."""
        ring = self._rings.get(container_id)
        if ring:
            return [(p[0], p[3]) for p in ring.points() if since is None or p[0] >= since]
        row = self._db.fetchone(
            "SELECT id FROM resource_series WHERE kind = 'container' AND container_id = ?",
            (container_id,),
        )
        if row is None:
            return []
        rows = self._db.fetchall(
            "SELECT ts, memory_bytes FROM resource_samples_raw WHERE series_id = ? AND ts >= ?"
            " ORDER BY ts DESC LIMIT ?",
            (row["id"], since or 0.0, self._ring_size),
        )
        return [(float(r["ts"]), int(r["memory_bytes"])) for r in reversed(rows)]

    def series(
        self, deployment: str, since: float, until: float, resolution: Resolution = "auto"
    ) -> dict[str, Any]:
        """Every container series of a deployment between `since` and `until`."""
        if resolution == "auto":
            raw_floor = until - self.raw_retention_seconds
            resolution = "raw" if since >= raw_floor else "minute"
        table = "resource_samples_raw" if resolution == "raw" else "resource_samples_minute"
        if resolution == "raw":
            columns = ", ".join(RAW_FIELDS)
        else:
            columns = (
                "ts, cpu_percent_avg, cpu_percent_max, cpu_core_percent_avg, memory_bytes_avg,"
                " memory_bytes_max, memory_limit_bytes, memory_percent_avg, memory_percent_max"
            )
        containers = []
        for series in self._db.fetchall(
            "SELECT id, container_id, service, name FROM resource_series"
            " WHERE kind = 'container' AND deployment = ? AND last_seen >= ?"
            " ORDER BY service, name",
            (deployment, since - 120),
        ):
            rows = self._db.fetchall(
                f"SELECT {columns} FROM {table} WHERE series_id = ? AND ts >= ? AND ts <= ?"
                " ORDER BY ts",
                (series["id"], since, until),
            )
            if not rows:
                continue
            containers.append(
                {
                    "container_id": series["container_id"],
                    "service": series["service"],
                    "name": series["name"],
                    "points": [_rounded(tuple(r)) for r in rows],
                }
            )
        return {
            "deployment": deployment,
            "since": since,
            "until": until,
            "resolution": resolution,
            "fields": list(RAW_FIELDS if resolution == "raw" else MINUTE_FIELDS),
            "containers": containers,
        }

    def prune(self, now: float) -> int:
        """Drop rows and rings past retention; return how many rows were deleted."""
        deleted, gone = self._prune_rows(now)
        self._forget(gone, now)
        return deleted

    async def prune_off_loop(self, now: float) -> int:
        """``prune``, with the store's deletes in a worker thread (the loop keeps running)."""
        deleted, gone = await asyncio.to_thread(self._prune_rows, now)
        self._forget(gone, now)
        return deleted

    def _prune_rows(self, now: float) -> tuple[int, list[str]]:
        """Delete rows past retention in one transaction; return the count and the
        container ids whose series were dropped. Touches only the store (thread-safe)."""
        raw_cutoff = now - self.raw_retention_seconds
        minute_cutoff = now - self.minute_retention_seconds
        deleted = 0
        with self._db.transaction() as conn:
            ids = [int(r[0]) for r in conn.execute("SELECT id FROM resource_series")]
            for series_id in ids:  # per series: each delete walks the primary key
                deleted += conn.execute(
                    "DELETE FROM resource_samples_raw WHERE series_id = ? AND ts < ?",
                    (series_id, raw_cutoff),
                ).rowcount
                deleted += conn.execute(
                    "DELETE FROM resource_samples_minute WHERE series_id = ? AND ts < ?",
                    (series_id, minute_cutoff),
                ).rowcount
            gone = conn.execute(
                "SELECT id, container_id FROM resource_series WHERE kind = 'container'"
                " AND last_seen < ?",
                (minute_cutoff,),
            ).fetchall()
            conn.executemany("DELETE FROM resource_series WHERE id = ?",
                             [(row[0],) for row in gone])
        return deleted, [str(row[1]) for row in gone]

    def _forget(self, gone: list[str], now: float) -> None:
        for container_id in gone:
            self._series.pop(container_id, None)
        self._prune_rings(now)

    def _prune_rings(self, now: float) -> None:
        """Forget rings unseen for the keep window, and the oldest retired ones over the cap."""
        for key, seen in list(self._ring_seen.items()):
            if now - seen > self._ring_keep_seconds:
                self._drop_ring(key)
        retired = sorted(
            (seen, key) for key, seen in self._ring_seen.items() if seen < self._last_ts
        )
        for _, key in retired[: max(0, len(retired) - self._max_retired)]:
            self._drop_ring(key)

    def _drop_ring(self, key: str) -> None:
        self._rings.pop(key, None)
        self._ring_seen.pop(key, None)
        self._series.pop(key, None)

    def _series_id(self, conn: Any, key: str, ref: ContainerRef | None, ts: float) -> int:
        known = self._series.get(key)
        if known is not None and known[1] == ref:
            return known[0]
        kind = "host" if ref is None else "container"
        row = conn.execute(
            "INSERT INTO resource_series"
            " (kind, container_id, deployment, service, name, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, container_id) DO UPDATE SET deployment = excluded.deployment,"
            " service = excluded.service, name = excluded.name, last_seen = excluded.last_seen"
            " RETURNING id",
            (
                kind,
                "" if ref is None else ref.container_id,
                "" if ref is None else ref.deployment,
                "" if ref is None else ref.service,
                "" if ref is None else ref.name,
                ts,
                ts,
            ),
        ).fetchone()
        series_id = int(row[0])
        self._series[key] = (series_id, ref)
        return series_id


def _rounded(row: tuple[Any, ...]) -> list[Any]:
    return [round(v, 3) if isinstance(v, float) else v for v in row]
