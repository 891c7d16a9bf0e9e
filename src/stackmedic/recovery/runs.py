"""Stored recovery runs: what triggered them, what was found, what was done, how it ended."""

from __future__ import annotations

import json
import time
from typing import Any

from stackmedic.store.db import Database
from stackmedic.types import RunOutcome


class RecoveryRuns:
    """Reads and writes the ``recovery_runs`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def begin(self, deployment: str, trigger: str, attempt: int) -> int:
        """Open a run; return its id."""
        return self._db.execute(
            "INSERT INTO recovery_runs (deployment, trigger, started_at, attempt, outcome)"
            " VALUES (?, ?, ?, ?, ?)",
            (deployment, trigger, time.time(), attempt, RunOutcome.RUNNING),
        )

    def diagnosed(self, run_id: int, evidence: dict[str, Any],
                  diagnosis: dict[str, Any]) -> None:
        """Store the evidence and the diagnosis."""
        self._db.execute(
            "UPDATE recovery_runs SET evidence = ?, diagnosis = ?, source = ? WHERE id = ?",
            (json.dumps(evidence, default=str), json.dumps(diagnosis, default=str),
             diagnosis.get("source"), run_id),
        )

    def finish(self, run_id: int, outcome: RunOutcome, actions: list[dict[str, Any]],
               error: str | None = None) -> None:
        """Close a run with its outcome and the actions taken."""
        self._db.execute(
            "UPDATE recovery_runs SET finished_at = ?, outcome = ?, actions = ?, error = ?"
            " WHERE id = ?",
            (time.time(), outcome, json.dumps(actions, default=str), error, run_id),
        )

    def progress(self, run_id: int, actions: list[dict[str, Any]]) -> None:
        """Store the actions an open run has done so far (kept should the run be cut short)."""
        self._db.execute(
            "UPDATE recovery_runs SET actions = ? WHERE id = ? AND outcome = ?",
            (json.dumps(actions, default=str), run_id, RunOutcome.RUNNING),
        )

    def interrupt(self, run_id: int, why: str) -> None:
        """Close a run that is still open as ``interrupted`` (cancelled or failed midway);
        the actions it had done stay recorded."""
        self.end(run_id, RunOutcome.INTERRUPTED, why)

    def end(self, run_id: int, outcome: RunOutcome, why: str) -> bool:
        """Close a run that is still open with ``outcome``; False when it had ended already."""
        changed = self._db.execute_rowcount(
            "UPDATE recovery_runs SET finished_at = ?, outcome = ?, error = ?"
            " WHERE id = ? AND outcome = ?",
            (time.time(), outcome, why, run_id, RunOutcome.RUNNING),
        )
        return changed > 0

    def interrupt_leftovers(self) -> list[dict[str, Any]]:
        """Close the runs a previous agent left open; return them as closed."""
        rows = self._db.fetchall("SELECT id FROM recovery_runs WHERE outcome = ?",
                                 (RunOutcome.RUNNING,))
        closed = []
        for row in rows:
            self.interrupt(int(row["id"]), "the agent stopped during the run")
            run = self.get(int(row["id"]))
            if run is not None:
                closed.append(run)
        return closed

    def previous(self, deployment: str, before_id: int) -> dict[str, Any] | None:
        """The last run of ``deployment`` before ``before_id`` that acted, if any."""
        for run in self.list(deployment, limit=10, before_id=before_id):
            if run["actions"]:
                return run
        return None

    def get(self, run_id: int) -> dict[str, Any] | None:
        """One run with everything stored about it."""
        row = self._db.fetchone("SELECT * FROM recovery_runs WHERE id = ?", (run_id,))
        return _run(row, full=True) if row else None

    def list(self, deployment: str | None = None, limit: int = 50,
             before_id: int | None = None) -> list[dict[str, Any]]:
        """Recent runs, newest first, without the bulky evidence."""
        clauses: list[str] = []
        params: list[Any] = []
        if deployment:
            clauses.append("deployment = ?")
            params.append(deployment)
        if before_id:
            clauses.append("id < ?")
            params.append(before_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.fetchall(
            f"SELECT * FROM recovery_runs {where} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [_run(r, full=False) for r in rows]


def _run(row: Any, *, full: bool) -> dict[str, Any]:
    diagnosis = json.loads(row["diagnosis"]) if row["diagnosis"] else None
    data = {
        "id": row["id"],
        "deployment": row["deployment"],
        "trigger": row["trigger"],
        "attempt": row["attempt"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "outcome": row["outcome"],
        "source": row["source"],
        "diagnosis": diagnosis,
        "actions": json.loads(row["actions"]) if row["actions"] else [],
        "error": row["error"],
    }
    if full:
        data["evidence"] = json.loads(row["evidence"]) if row["evidence"] else None
    return data
