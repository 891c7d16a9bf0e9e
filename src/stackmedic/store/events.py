"""The agent's event log: every state change, intent change and action, queryable and pruned."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from stackmedic.store.db import Database
from stackmedic.types import EventKind, Severity


@dataclass(frozen=True)
class EventQuery:
    """Filters and paging for the event log."""

    deployment: str | None = None
    kind: EventKind | None = None
    severity: Severity | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100
    before_id: int | None = None


class EventLog:
    """Append-only log of what the agent saw and did."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        kind: EventKind,
        message: str,
        *,
        deployment: str | None = None,
        service: str | None = None,
        severity: Severity = Severity.INFO,
        data: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> int:
        """Store one event; return its id."""
        return self._db.execute(
            "INSERT INTO agent_events (ts, deployment, service, kind, severity, message, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                time.time() if at is None else at,
                deployment,
                service,
                kind,
                severity,
                message,
                json.dumps(data, default=str) if data else None,
            ),
        )

    def query(self, q: EventQuery) -> list[dict[str, Any]]:
        """Newest first, filtered; page with ``before_id`` set to the last id seen."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("deployment", q.deployment), ("kind", q.kind),
                              ("severity", q.severity)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if q.since is not None:
            clauses.append("ts >= ?")
            params.append(q.since)
        if q.until is not None:
            clauses.append("ts <= ?")
            params.append(q.until)
        if q.before_id is not None:
            clauses.append("id < ?")
            params.append(q.before_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.fetchall(
            f"SELECT * FROM agent_events {where} ORDER BY id DESC LIMIT ?",
            (*params, q.limit),
        )
        return [
            {
                "id": r["id"],
                "ts": r["ts"],
                "deployment": r["deployment"],
                "service": r["service"],
                "kind": r["kind"],
                "severity": r["severity"],
                "message": r["message"],
                "data": json.loads(r["data"]) if r["data"] else None,
            }
            for r in rows
        ]

    def kinds(self) -> list[str]:
        """Every event kind in the log, sorted."""
        return [str(r["kind"]) for r in self._db.fetchall(
            "SELECT DISTINCT kind FROM agent_events ORDER BY kind")]

    def deployments(self) -> set[str]:
        """Every deployment named by an event in the log."""
        return {str(r["deployment"]) for r in self._db.fetchall(
            "SELECT DISTINCT deployment FROM agent_events WHERE deployment IS NOT NULL")}

    def prune(self, older_than_seconds: float, *, now: float | None = None) -> int:
        """Delete events older than the retention; return how many went."""
        cutoff = (time.time() if now is None else now) - older_than_seconds
        return self._db.execute_rowcount("DELETE FROM agent_events WHERE ts < ?", (cutoff,))
