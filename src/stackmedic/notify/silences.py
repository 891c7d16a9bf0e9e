"""Silences (maintenance windows) by deployment, kept in ``notification_silences``."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from typing import Any

from stackmedic.notify.types import Clock, iso_time
from stackmedic.store.db import Database

ALL_DEPLOYMENTS = "*"
_DEPLOYMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


def _as_dict(row: sqlite3.Row) -> dict[str, Any]:
    """Return a silence as plain data."""
    return {
        "id": row["id"],
        "deployment": row["deployment"],
        "starts_at": iso_time(row["starts_at"]),
        "ends_at": iso_time(row["ends_at"]),
        "reason": row["reason"],
        "created_at": iso_time(row["created_at"]),
    }


class SilenceStore:
    """Adds, lists, removes and checks silences."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def add(
        self,
        deployment: str,
        until: datetime,
        reason: str = "",
        starts: datetime | None = None,
    ) -> dict[str, Any]:
        """Silence a deployment (``*``: every deployment and agent problems) until ``until``."""
        if deployment != ALL_DEPLOYMENTS and not _DEPLOYMENT.match(deployment):
            raise ValueError(f"deployment: not a valid deployment name: {deployment!r}")
        if until.tzinfo is None:
            raise ValueError("until: must carry a time zone")
        now = self._clock()
        begin = starts.timestamp() if starts is not None else now
        end = until.timestamp()
        if end <= max(begin, now):
            raise ValueError("until: must be in the future and after the start")
        silence_id = self._db.execute(
            "INSERT INTO notification_silences (deployment, starts_at, ends_at, reason, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (deployment, begin, end, reason[:500], now),
        )
        row = self._db.fetchone("SELECT * FROM notification_silences WHERE id = ?", (silence_id,))
        assert row is not None
        return _as_dict(row)

    def list(self, *, include_expired: bool = False) -> list[dict[str, Any]]:
        """Return silences, active and upcoming ones unless ``include_expired``."""
        if include_expired:
            rows = self._db.fetchall("SELECT * FROM notification_silences ORDER BY ends_at")
        else:
            rows = self._db.fetchall(
                "SELECT * FROM notification_silences WHERE ends_at > ? ORDER BY ends_at",
                (self._clock(),),
            )
        return [_as_dict(row) for row in rows]

    def remove(self, silence_id: int) -> bool:
        """Delete a silence; return whether it existed."""
        return (
            self._db.execute_rowcount(
                "DELETE FROM notification_silences WHERE id = ?", (silence_id,)
            )
            > 0
        )

    def is_silenced(self, deployment: str | None, at: float | None = None) -> bool:
        """True when a silence covers the deployment at ``at`` (default: now)."""
        moment = self._clock() if at is None else at
        row = self._db.fetchone(
            "SELECT 1 FROM notification_silences WHERE starts_at <= ? AND ends_at > ?"
            " AND (deployment = ? OR deployment = ?) LIMIT 1",
            (moment, moment, deployment or "", ALL_DEPLOYMENTS),
        )
        return row is not None

    def prune(self, before: float) -> int:
        """Delete silences that ended before ``before``; return how many."""
        return self._db.execute_rowcount(
            "DELETE FROM notification_silences WHERE ends_at < ?", (before,)
        )
