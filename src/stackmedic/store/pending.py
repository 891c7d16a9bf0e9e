"""Durable pending stops: what the engine showed of a stop, kept until it is decided."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import asdict, dataclass

from stackmedic.store.db import Database


@dataclass(frozen=True)
class StoredStop:
    """One stop seen on the engine, with the evidence gathered about it so far."""

    container_id: str
    stop_at: float
    deployment: str
    service: str
    kill_at: float | None = None
    die_at: float | None = None
    exit_code: int | None = None
    daemon: str | None = None
    answered_at: float | None = None
    refused_at: float | None = None
    seen_at: float = 0.0

    @property
    def began(self) -> float:
        """When the stop began: its first kill, else the stop itself."""
        return self.kill_at if self.kill_at is not None else self.stop_at


class PendingStopStore:
    """Reads and writes pending stops; every write is committed before it returns."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, stop: StoredStop, replacing: float | None = None) -> bool:
        """Store a stop unless already stored (a replayed event); return whether it is new.

        ``replacing``: the time of the container's stop this one takes the place of, removed
        in the same write (an agent killed in between must find exactly one).
        """
        row = asdict(stop)
        row["seen_at"] = stop.seen_at or time.time()
        columns = ", ".join(row)
        marks = ", ".join(f":{c}" for c in row)
        with self._db.transaction() as conn:
            added = conn.execute(
                f"INSERT OR IGNORE INTO pending_stops ({columns}) VALUES ({marks})", row
            ).rowcount == 1
            if replacing is not None:
                conn.execute("DELETE FROM pending_stops WHERE container_id = ? AND stop_at = ?",
                             (stop.container_id, replacing))
        return added

    def probed(self, container_id: str, *, answered_at: float | None,
               refused_at: float | None) -> None:
        """Add what a connection attempt to the daemon showed to a container's pending stops."""
        self._db.execute(
            "UPDATE pending_stops SET answered_at = COALESCE(answered_at, ?),"
            " refused_at = COALESCE(refused_at, ?) WHERE container_id = ?",
            (answered_at, refused_at, container_id),
        )

    def remove(self, container_id: str, stop_at: float) -> None:
        """Forget a decided stop."""
        self._db.execute(
            "DELETE FROM pending_stops WHERE container_id = ? AND stop_at = ?",
            (container_id, stop_at),
        )

    def all(self) -> list[StoredStop]:
        """Every pending stop, oldest first."""
        rows = self._db.fetchall("SELECT * FROM pending_stops ORDER BY stop_at")
        return [_stop(r) for r in rows]


def _stop(row: sqlite3.Row) -> StoredStop:
    return StoredStop(**{key: row[key] for key in row.keys()})  # noqa: SIM118
