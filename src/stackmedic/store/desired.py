"""Durable desired state per deployment and per service."""

from __future__ import annotations

import time
from dataclasses import dataclass

from stackmedic.store.db import Database
from stackmedic.types import DesiredState

DEPLOYMENT = ""  # the service key that stands for the whole deployment


@dataclass(frozen=True)
class DesiredRecord:
    """One desired state with where it came from and when."""

    deployment: str
    service: str
    state: DesiredState
    source: str
    changed_at: float

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"state": self.state.value, "source": self.source, "changed_at": self.changed_at}


@dataclass(frozen=True)
class ScaleRecord:
    """How many of a scaled service's containers a person keeps running."""

    replicas: int
    containers: frozenset[str]
    """The service's container ids when it was recorded: it applies to those alone."""

    def applies(self, ids: frozenset[str]) -> bool:
        """Whether the service still has exactly the containers it had then."""
        return ids == self.containers


class DesiredStateStore:
    """Reads and writes desired states; every write is committed before it returns."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def db(self) -> Database:
        """The database the records live in (intent keeps its pending stops there too)."""
        return self._db

    def get(self, deployment: str, service: str = DEPLOYMENT) -> DesiredRecord | None:
        """The desired state of a deployment (or one of its services), if recorded."""
        row = self._db.fetchone(
            "SELECT * FROM desired_states WHERE deployment = ? AND service = ?",
            (deployment, service),
        )
        return _record(row) if row else None

    def services(self, deployment: str) -> dict[str, DesiredRecord]:
        """Per-service records of one deployment."""
        rows = self._db.fetchall(
            "SELECT * FROM desired_states WHERE deployment = ? AND service != ''", (deployment,)
        )
        return {r["service"]: _record(r) for r in rows}

    def all(self) -> dict[str, DesiredRecord]:
        """Deployment-level records by deployment name."""
        rows = self._db.fetchall("SELECT * FROM desired_states WHERE service = ''")
        return {r["deployment"]: _record(r) for r in rows}

    def set(
        self,
        deployment: str,
        state: DesiredState,
        source: str,
        service: str = DEPLOYMENT,
        *,
        at: float | None = None,
    ) -> tuple[DesiredRecord, bool]:
        """Record a desired state; return it and whether it changed the stored state.

        Setting the whole deployment clears per-service overrides, because the user's
        latest word on the deployment covers every service in it.
        """
        now = time.time() if at is None else at
        previous = self.get(deployment, service)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO desired_states (deployment, service, state, source, changed_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (deployment, service) DO UPDATE SET"
                " state = excluded.state, source = excluded.source,"
                " changed_at = excluded.changed_at",
                (deployment, service, state.value, source, now),
            )
            if service == DEPLOYMENT:
                conn.execute(
                    "DELETE FROM desired_states WHERE deployment = ? AND service != ''",
                    (deployment,),
                )
                conn.execute("DELETE FROM desired_scales WHERE deployment = ?", (deployment,))
            else:
                conn.execute("DELETE FROM desired_scales WHERE deployment = ? AND service = ?",
                             (deployment, service))
        record = DesiredRecord(deployment, service, state, source, now)
        return record, previous is None or previous.state != state

    def set_if_absent(
        self, deployment: str, state: DesiredState, source: str
    ) -> tuple[DesiredRecord, bool]:
        """Record a first-sight state unless one exists; return the stored one and if it is new."""
        existing = self.get(deployment)
        if existing is not None:
            return existing, False
        return self.set(deployment, state, source)[0], True

    def effective(self, deployment: str, service: str) -> DesiredState | None:
        """The desired state of one service: its own override, else the deployment's."""
        record = self.get(deployment, service) or self.get(deployment)
        return record.state if record else None

    def scales(self, deployment: str) -> dict[str, ScaleRecord]:
        """The scales people kept by hand, by service."""
        rows = self._db.fetchall(
            "SELECT * FROM desired_scales WHERE deployment = ?", (deployment,))
        return {r["service"]: ScaleRecord(int(r["replicas"]),
                                          frozenset(filter(None, r["containers"].split(","))))
                for r in rows}

    def set_scale(self, deployment: str, service: str, replicas: int,
                  containers: frozenset[str]) -> bool:
        """Keep ``replicas`` of the service's ``containers`` running; whether it changed."""
        before = self.scales(deployment).get(service)
        record = ScaleRecord(replicas, containers)
        self._db.execute(
            "INSERT INTO desired_scales (deployment, service, replicas, containers, changed_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (deployment, service) DO UPDATE SET"
            " replicas = excluded.replicas, containers = excluded.containers,"
            " changed_at = excluded.changed_at",
            (deployment, service, replicas, ",".join(sorted(containers)), time.time()),
        )
        return before != record

    def clear_scale(self, deployment: str, service: str) -> None:
        """The service's scale is its containers' again."""
        self._db.execute("DELETE FROM desired_scales WHERE deployment = ? AND service = ?",
                         (deployment, service))

    def forget(self, deployment: str) -> None:
        """Remove every record of a deployment."""
        self._db.execute("DELETE FROM desired_states WHERE deployment = ?", (deployment,))
        self._db.execute("DELETE FROM desired_scales WHERE deployment = ?", (deployment,))


def _record(row: object) -> DesiredRecord:
    r = row  # sqlite3.Row
    return DesiredRecord(
        deployment=r["deployment"],  # type: ignore[index]
        service=r["service"],  # type: ignore[index]
        state=DesiredState(r["state"]),  # type: ignore[index]
        source=r["source"],  # type: ignore[index]
        changed_at=float(r["changed_at"]),  # type: ignore[index]
    )
