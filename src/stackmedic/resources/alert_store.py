"""Durable record of spike-alert transitions and of the alerts firing now."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from stackmedic.resources.models import AlertState, Consumer, SpikeAlert
from stackmedic.types import Severity

if TYPE_CHECKING:
    from stackmedic.store.db import Database


class AlertStore:
    """Writes each transition once and keeps the firing set across restarts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, alert: SpikeAlert) -> None:
        """Store one transition and update the firing set in the same transaction."""
        data = json.dumps(alert.to_dict(), separators=(",", ":"))
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO resource_alert_events"
                " (ts, rule, subject, state, severity, deployment, service, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    alert.ts,
                    alert.rule,
                    alert.subject,
                    alert.state,
                    alert.severity,
                    alert.deployment,
                    alert.service,
                    data,
                ),
            )
            if alert.state == "firing":
                conn.execute(
                    "INSERT OR REPLACE INTO resource_alerts_firing VALUES (?, ?, ?)",
                    (alert.rule, alert.subject, data),
                )
            else:
                conn.execute(
                    "DELETE FROM resource_alerts_firing WHERE rule = ? AND subject = ?",
                    (alert.rule, alert.subject),
                )

    def firing(self) -> list[SpikeAlert]:
        """The alerts that were firing when last recorded."""
        rows = self._db.fetchall("SELECT data FROM resource_alerts_firing ORDER BY rule, subject")
        return [alert_from_dict(json.loads(r["data"])) for r in rows]

    def resolved_since(self, since: float) -> list[SpikeAlert]:
        """The resolves recorded at or after `since`, oldest first (cooldowns to go on)."""
        rows = self._db.fetchall(
            "SELECT data FROM resource_alert_events WHERE state = 'resolved' AND ts >= ?"
            " ORDER BY id",
            (since,),
        )
        return [alert_from_dict(json.loads(r["data"])) for r in rows]

    def events(
        self,
        *,
        state: AlertState | None = None,
        deployment: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The most recent transitions, newest first."""
        clauses: list[str] = []
        params: list[Any] = []
        if state is not None:
            clauses.append("state = ?")
            params.append(state)
        if deployment is not None:
            clauses.append("deployment = ?")
            params.append(deployment)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.fetchall(
            f"SELECT id, data FROM resource_alert_events {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [{"event_id": r["id"], **json.loads(r["data"])} for r in rows]

    def prune(self, before: float) -> int:
        """Delete transitions older than `before`; return how many."""
        return self._db.execute_rowcount(
            "DELETE FROM resource_alert_events WHERE ts < ?", (before,)
        )


def alert_from_dict(data: dict[str, Any]) -> SpikeAlert:
    """Rebuild an alert from its `to_dict()` form."""
    fields = dict(data)
    fields.pop("event_id", None)
    fields["severity"] = Severity(fields["severity"])
    fields["top_consumers"] = tuple(Consumer(**c) for c in fields.get("top_consumers") or ())
    return SpikeAlert(**fields)
