"""Durable problem states (table ``notification_problems``), so pairing survives restarts."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, cast

from stackmedic.notify.models import NotificationEvent
from stackmedic.notify.noise import ProblemState, ProblemStatus
from stackmedic.notify.types import iso_time
from stackmedic.store.db import Database
from stackmedic.types import Severity

_COLUMNS = (
    "fingerprint, deployment, service, status, severity, started_at, changed_at, last_event, "
    "notified_status, notified_severity, notified_at, channels, changes, flapping"
)


def _from_row(row: sqlite3.Row) -> ProblemState:
    """Build a state from its row."""
    return ProblemState(
        fingerprint=row["fingerprint"],
        deployment=row["deployment"],
        service=row["service"],
        status=cast(ProblemStatus, row["status"]),
        severity=Severity(row["severity"]),
        started_at=row["started_at"],
        changed_at=row["changed_at"],
        last_event=NotificationEvent.model_validate_json(row["last_event"]),
        notified_status=cast(ProblemStatus | None, row["notified_status"]),
        notified_severity=Severity(row["notified_severity"]) if row["notified_severity"] else None,
        notified_at=row["notified_at"],
        channels=tuple(json.loads(row["channels"])),
        changes=tuple(json.loads(row["changes"])),
        flapping=bool(row["flapping"]),
    )


def _params(state: ProblemState) -> tuple[Any, ...]:
    """Return the row values of a state, in ``_COLUMNS`` order."""
    return (
        state.fingerprint,
        state.deployment,
        state.service,
        state.status,
        state.severity,
        state.started_at,
        state.changed_at,
        state.last_event.model_dump_json(),
        state.notified_status,
        state.notified_severity,
        state.notified_at,
        json.dumps(list(state.channels)),
        json.dumps(list(state.changes)),
        int(state.flapping),
    )


class ProblemStore:
    """Reads and writes problem states."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, fingerprint: str) -> ProblemState | None:
        """Return the state of a fingerprint, or None."""
        row = self._db.fetchone(
            f"SELECT {_COLUMNS} FROM notification_problems WHERE fingerprint = ?", (fingerprint,)
        )
        return _from_row(row) if row else None

    def all(self) -> list[ProblemState]:
        """Return every known problem state."""
        rows = self._db.fetchall(
            f"SELECT {_COLUMNS} FROM notification_problems ORDER BY changed_at"
        )
        return [_from_row(row) for row in rows]

    def save(self, state: ProblemState, conn: sqlite3.Connection | None = None) -> None:
        """Insert or replace a state (inside ``conn``'s transaction when given)."""
        marks = ",".join("?" * 14)
        sql = f"INSERT OR REPLACE INTO notification_problems ({_COLUMNS}) VALUES ({marks})"
        if conn is not None:
            conn.execute(sql, _params(state))
        else:
            self._db.execute(sql, _params(state))

    def forget(self, fingerprint: str) -> None:
        """Delete a state."""
        self._db.execute("DELETE FROM notification_problems WHERE fingerprint = ?", (fingerprint,))

    def firing(self) -> list[dict[str, Any]]:
        """Return the firing problems as plain data (for API answers)."""
        return [
            {
                "fingerprint": s.fingerprint,
                "kind": s.last_event.kind.value,
                "deployment": s.deployment,
                "service": s.service,
                "severity": s.severity,
                "title": s.last_event.title,
                "since": iso_time(s.started_at),
                "flapping": s.flapping,
                "notified": s.notified_status == "firing",
            }
            for s in self.all()
            if s.status == "firing"
        ]
