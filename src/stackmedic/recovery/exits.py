"""Why each container last exited, and which services are one-shot jobs, from evidence.

A clean exit only means "this job is done" when nothing stopped the container. The ledger
tells the two apart and writes its conclusion on the observed ``ContainerState``
(``exit_cause`` and ``job``) before the health engine reads it:

- ``stop``: a ``kill`` event came shortly before the ``die`` (a person's stop,
  stackmedic's, a daemon shutdown seen live), or the agent last saw the container running
  and finds it exited with a finish time no later than the current daemon's start (the
  daemon or host went down under it while the agent was not looking).
- ``own``: its ``die`` was seen live with no stop before it.
- ``""``: nothing is known.

It is also the one count of OOM kills per service, kept across container recreation and
agent restarts: one kill can be seen three ways (the engine's ``oom`` event, the
``OOMKilled`` flag of the exited container, the cgroup's ``oom_kill`` counter while it
runs); each run of a container adds the most any one source saw, so a kill counts once.
What must survive an agent restart (last seen running, stop requests, causes, each run's
OOM tally, OOM kills per service) is kept in the ``container_exits`` and ``service_ooms``
tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from stackmedic.deployments.catalog import Catalog
from stackmedic.engine.events import event_time
from stackmedic.observe.containers import LABEL_ONESHOT, ContainerState
from stackmedic.observe.events import ContainerChanged, EngineReached
from stackmedic.resources.models import ContainerRef, ContainerSample
from stackmedic.store.db import Database

COMPLETED_CONDITION = "service_completed_successfully"
# Clock slack between the engine's times and the daemon process's start time.
SLACK_SECONDS = 1.0
# Engine 20.10 on cgroup v1 may send two ``oom`` events for one kill, milliseconds apart
# (the cgroup's OOM notification fired twice while the victim was exiting). Two events with
# a ``die`` between them are two kills however close: a restart policy's first restarts
# come 0.1 s apart.
OOM_EVENT_ECHO_SECONDS = 0.5
# A die this long after a kill is the kill's doing (stop timeouts are ~10 s).
STOP_GRACE_SECONDS = 60.0


@dataclass
class OomRun:
    """OOM kills of one run of a container, as each source saw them."""

    started: float | None = None  # the run's start (engine clock); None when unknown
    events: int = 0
    cgroup: int = 0
    flag: bool = False
    counted: int = 0  # what this run has added to its service's count

    def kills(self) -> int:
        """The kills of this run: every source sees the same ones, so the most any saw."""
        return max(self.events, self.cgroup, int(self.flag))


@dataclass
class ExitRecord:
    """What the ledger keeps about one container."""

    container_id: str
    project: str
    service: str
    running_seen_at: float | None = None
    stop_requested_at: float | None = None
    finished_at: float | None = None
    exit_cause: str = ""
    oom: OomRun = field(default_factory=OomRun)
    oom_event_at: float | None = None  # the last ``oom`` event counted (replays repeat it)
    started_at: float | None = None  # the current run's start, as last seen (not stored)
    died_at: float | None = None  # the last ``die`` event's time (not stored)

    def persisted(self) -> tuple[Any, ...]:
        """The fields stored, in the table's order."""
        return (self.container_id, self.project, self.service, self.running_seen_at,
                self.stop_requested_at, self.finished_at, self.exit_cause, self.oom.started,
                self.oom.events, self.oom.cgroup, int(self.oom.flag), self.oom.counted,
                self.oom_event_at)


def declared_jobs(catalog: Catalog, project: str) -> set[str]:
    """Services the deployment declares one-shot: awaited to complete, or labelled so."""
    deployment = catalog.by_project(project)
    if deployment is None:
        return set()
    jobs = {name for name, spec in deployment.services.items()
            if spec.labels.get(LABEL_ONESHOT, "").lower() in ("true", "1", "yes")}
    for spec in deployment.services.values():
        jobs |= {dep for dep, cond in spec.depends_conditions.items()
                 if cond == COMPLETED_CONDITION}
    return jobs


def exit_cause(record: ExitRecord, state: ContainerState, *, seen_die: bool,
               daemon_started_at: float | None) -> str:
    """Why ``state`` (an exited container) exited, given what was recorded before (pure)."""
    finished = state.finished_at
    if finished is None:
        return ""
    asked = record.stop_requested_at
    # Event and start times both come from the engine's clock. A kill before the run that
    # ended had started says nothing about how it ended; when a restart policy has started
    # the container again already, that run's start is unknown and the grace decides.
    started = state.started_at
    run_start = started if started is not None and started <= finished else None
    if asked is not None and finished - STOP_GRACE_SECONDS <= asked <= finished + SLACK_SECONDS \
            and (run_start is None or run_start <= asked):
        return "stop"
    if seen_die:
        return "own"
    if record.running_seen_at is not None and daemon_started_at is not None \
            and finished <= daemon_started_at + SLACK_SECONDS:
        return "stop"  # it was running when its daemon went down
    return ""


class ExitLedger:
    """Records exits from each container change and annotates the container's state."""

    def __init__(self, db: Database, catalog: Catalog, *,
                 daemon_started_at: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._catalog = catalog
        self._daemon_started_at = daemon_started_at
        self._clock = clock
        self._records: dict[str, ExitRecord] = {
            row["container_id"]: ExitRecord(
                row["container_id"], row["project"], row["service"], row["running_seen_at"],
                row["stop_requested_at"], row["finished_at"], row["exit_cause"] or "",
                OomRun(row["oom_run"], row["oom_events"], row["oom_cgroup"],
                       bool(row["oom_flag"]), row["oom_counted"]),
                row["oom_event_at"],
            )
            for row in db.fetchall("SELECT * FROM container_exits")
        }
        self._ooms: dict[tuple[str, str], tuple[int, float]] = {
            (row["project"], row["service"]): (int(row["kills"]), float(row["last_at"]))
            for row in db.fetchall("SELECT * FROM service_ooms")
        }

    async def on_engine_reached(self, event: EngineReached) -> None:
        """A (re)connection: the resync that follows is judged against this daemon."""
        self._daemon_started_at = event.daemon_started_at

    async def on_container_change(self, change: ContainerChanged) -> None:
        """Record what the change says, then annotate its current state."""
        current, event = change.current, change.event
        state = current or change.previous
        if state is None or state.oneoff:
            return
        action = str((event or {}).get("Action") or "").split(":", 1)[0]
        if current is None or action == "destroy":
            self._forget(state.id)
            return
        record = self._records.get(current.id) or ExitRecord(
            current.id, current.project, current.service)
        before = _copy(record)
        at = event_time(event) if event else self._clock()
        if action == "kill":  # every stop (a person's, a restart's, a shutdown's) kills first
            record.stop_requested_at = at
        if action == "oom":
            self._oom_event(record, current, at)
        if action == "die":
            record.died_at = at
        if current.oom_killed and _exited(current):
            self._tally(record, current.started_at).flag = True
            self._settle(record, at)
        if current.finished_at is not None and current.finished_at != record.finished_at:
            # A new exit; a restart policy may have started the container again already.
            record.exit_cause = exit_cause(
                record, current, seen_die=action == "die",
                daemon_started_at=self._daemon_started_at)
            record.finished_at = current.finished_at
            record.stop_requested_at = None  # a request explains one exit at most
            if _exited(current):
                record.running_seen_at = None
        if current.running:
            record.running_seen_at = self._clock()
            record.started_at = current.started_at
        current.exit_cause = record.exit_cause
        current.oom_kills = self.oom_kills(current.project, current.service)
        current.job = current.job or current.service in declared_jobs(
            self._catalog, current.project)
        self._records[current.id] = record
        if _persisted_differs(before, record):
            self._save(record)

    async def on_oom_kill(self, sample: ContainerSample,
                          trend: list[tuple[float, int]]) -> None:
        """The cgroup counter of a running container rose: take its figure for this run."""
        record = self._records.get(sample.ref.container_id)
        if record is None or record.started_at is None or sample.oom_kills is None:
            return
        before = record.persisted()
        run = self._tally(record, record.started_at)
        run.cgroup = max(run.cgroup, sample.oom_kills)
        self._settle(record, sample.ts)
        if record.persisted() != before:
            self._save(record)

    def oom_kills(self, project: str, service: str) -> int:
        """OOM kills of a service's containers so far, each counted once."""
        return self._ooms.get((project, service), (0, 0.0))[0]

    def oom_kills_of(self, ref: ContainerRef) -> int:
        """OOM kills of a sampled container's service (the resource monitor's count)."""
        deployment = self._catalog.deployments.get(ref.deployment)
        return self.oom_kills(deployment.project, ref.service) if deployment else 0

    def oom_counts(self) -> list[dict[str, Any]]:
        """Every service with OOM kills: project, service, kills and the last one's time."""
        return [{"project": p, "service": s, "kills": kills, "last_at": last_at}
                for (p, s), (kills, last_at) in sorted(self._ooms.items())]

    def _oom_event(self, record: ExitRecord, state: ContainerState, at: float) -> None:
        last, record.oom_event_at = record.oom_event_at, max(at, record.oom_event_at or at)
        if last is not None and at <= last:
            return  # an event replayed after a reconnect: counted already
        died_between = record.died_at is not None and last is not None \
            and last <= record.died_at <= at
        if last is not None and at - last < OOM_EVENT_ECHO_SECONDS and not died_between:
            return  # the same kill told again (measured: 5 ms apart, one die)
        started = state.started_at
        if started is not None and started > at + SLACK_SECONDS:
            # A restart policy started it again before it was inspected: the kill belongs
            # to the run before, the one tallied if it is known, else a run of its own.
            known = record.oom.started
            if known is None or known > at + SLACK_SECONDS:
                self._add(record, 1, at)
                return
            started = known
        self._tally(record, started).events += 1
        self._settle(record, at)

    @staticmethod
    def _tally(record: ExitRecord, started: float | None) -> OomRun:
        """The OOM tally of the run that began at ``started``; a new run starts afresh."""
        if record.oom.started != started:
            record.oom = OomRun(started)
        return record.oom

    def _settle(self, record: ExitRecord, at: float) -> None:
        """Add what the current run's kills grew by to the service's count."""
        run = record.oom
        grown = run.kills() - run.counted
        if grown <= 0:
            return
        run.counted += grown
        self._add(record, grown, at)

    def _add(self, record: ExitRecord, grown: int, at: float) -> None:
        key = (record.project, record.service)
        kills = self._ooms.get(key, (0, 0.0))[0] + grown
        self._ooms[key] = (kills, at)
        self._db.execute(
            "INSERT INTO service_ooms (project, service, kills, last_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (project, service) DO UPDATE SET kills = excluded.kills,"
            " last_at = excluded.last_at",
            (record.project, record.service, kills, at))

    def _save(self, record: ExitRecord) -> None:
        self._db.execute(
            "INSERT INTO container_exits (container_id, project, service, running_seen_at,"
            " stop_requested_at, finished_at, exit_cause, oom_run, oom_events, oom_cgroup,"
            " oom_flag, oom_counted, oom_event_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (container_id)"
            " DO UPDATE SET running_seen_at = excluded.running_seen_at,"
            " stop_requested_at = excluded.stop_requested_at,"
            " finished_at = excluded.finished_at, exit_cause = excluded.exit_cause,"
            " oom_run = excluded.oom_run, oom_events = excluded.oom_events,"
            " oom_cgroup = excluded.oom_cgroup, oom_flag = excluded.oom_flag,"
            " oom_counted = excluded.oom_counted, oom_event_at = excluded.oom_event_at,"
            " updated_at = excluded.updated_at",
            (*record.persisted(), self._clock()))

    def _forget(self, container_id: str) -> None:
        if self._records.pop(container_id, None) is not None:
            self._db.execute("DELETE FROM container_exits WHERE container_id = ?",
                             (container_id,))


def _exited(state: ContainerState) -> bool:
    return state.status in ("exited", "dead")


def _copy(record: ExitRecord) -> ExitRecord:
    return replace(record, oom=replace(record.oom))


def _persisted_differs(before: ExitRecord, after: ExitRecord) -> bool:
    """Whether a write is needed: running sightings are saved only when they begin."""
    if (before.running_seen_at is None) != (after.running_seen_at is None):
        return True
    return before.persisted()[4:] != after.persisted()[4:]
