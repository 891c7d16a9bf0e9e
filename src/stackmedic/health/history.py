"""Durable per-deployment health history: one row per transition."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from stackmedic.health.model import DeploymentHealth, Signature, Verdict, signature
from stackmedic.store.db import Database


@dataclass(frozen=True)
class LastKnown:
    """The newest stored transition of a deployment."""

    verdict: Verdict
    since: float  # when the deployment entered this verdict
    signature: Signature


class HealthHistory:
    """Reads and writes the ``health_transitions`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, current: DeploymentHealth, previous: Verdict | None, at: float) -> int:
        """Store one transition; return its id."""
        return self._db.execute(
            "INSERT INTO health_transitions (ts, deployment, verdict, previous, reason, services)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                at,
                current.deployment,
                current.verdict.value,
                previous.value if previous else None,
                current.reason,
                json.dumps(current.services_dict(), sort_keys=True),
            ),
        )

    def last_known(self) -> dict[str, LastKnown]:
        """The newest transition of every deployment that has one."""
        rows = self._db.fetchall(
            "SELECT deployment, verdict, ts, services FROM health_transitions"
            " WHERE id IN (SELECT MAX(id) FROM health_transitions GROUP BY deployment)"
        )
        entered = {
            str(r["deployment"]): float(r["ts"])
            for r in self._db.fetchall(
                "SELECT deployment, MAX(ts) AS ts FROM health_transitions"
                " WHERE previous IS NULL OR previous != verdict GROUP BY deployment"
            )
        }
        found = {}
        for r in rows:
            try:
                verdict = Verdict(r["verdict"])
            except ValueError:
                continue
            services = json.loads(r["services"] or "{}")
            found_signature = signature(
                verdict.value, [{**s, "name": name} for name, s in services.items()]
            )
            name = str(r["deployment"])
            found[name] = LastKnown(verdict, entered.get(name, float(r["ts"])), found_signature)
        return found

    def query(
        self, deployment: str, *, limit: int = 100, before_id: int | None = None
    ) -> list[dict[str, Any]]:
        """Transitions of one deployment, newest first; page with ``before_id``."""
        params: list[Any] = [deployment]
        where = "deployment = ?"
        if before_id is not None:
            where += " AND id < ?"
            params.append(before_id)
        rows = self._db.fetchall(
            f"SELECT * FROM health_transitions WHERE {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            {
                "id": r["id"],
                "ts": r["ts"],
                "verdict": r["verdict"],
                "previous": r["previous"],
                "reason": r["reason"],
                "services": json.loads(r["services"] or "{}"),
            }
            for r in rows
        ]

    def prune(self, older_than_seconds: float, *, now: float | None = None) -> int:
        """Delete transitions older than the retention, keeping each deployment's newest."""
        cutoff = (time.time() if now is None else now) - older_than_seconds
        return self._db.execute_rowcount(
            "DELETE FROM health_transitions WHERE ts < ? AND id NOT IN"
            " (SELECT MAX(id) FROM health_transitions GROUP BY deployment)",
            (cutoff,),
        )
