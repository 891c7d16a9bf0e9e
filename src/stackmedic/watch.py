"""The agent's watch over itself: its tasks, each loop's heartbeat, systemd's watchdog.

Loops: ``events`` (the engine's event stream), ``sweep`` (the periodic resync),
``sampler`` (resources), ``notifier`` (its channel workers), ``recovery`` (no run
stuck past its deadline, no run that raised or timed out without a good run since) and
``store`` (the database takes a write and its filesystem has room). ``liveness()`` is
what ``/healthz``, ``stackmedic check`` and the watchdog read.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from stackmedic.supervise.config import SupervisionConfig
from stackmedic.supervise.heartbeat import Heartbeats
from stackmedic.supervise.sdnotify import SystemdNotifier
from stackmedic.supervise.supervisor import Supervisor
from stackmedic.types import RunOutcome

if TYPE_CHECKING:
    from stackmedic.config.model import Settings
    from stackmedic.engine.client import EngineClient
    from stackmedic.engine.events import EventStream
    from stackmedic.notify.service import Notifier
    from stackmedic.resources import ResourceMonitor
    from stackmedic.store.db import Database

log = structlog.get_logger(__name__)

STORE_PROBE_SECONDS = 5.0
STORE_MIN_FREE_BYTES = 1 << 20  # below this the store's next writes may fail


class AgentWatch:
    """Supervised tasks, heartbeats and the systemd watchdog of one agent."""

    def __init__(self, config: SupervisionConfig, systemd: SystemdNotifier | None = None) -> None:
        self.config = config
        self.heartbeats = Heartbeats()
        self.supervisor = Supervisor(
            restart_initial=config.restart_initial_seconds,
            restart_max=config.restart_max_seconds,
            failure_limit=config.failure_limit,
            failure_window=config.failure_window_seconds,
            progress=self.heartbeats.last_progress,
        )
        self.systemd = systemd or SystemdNotifier()
        self.closing = False
        self.store_error: str | None = None

    def liveness(self) -> dict[str, Any]:
        """Every loop's heartbeat and every task's failures; ``problems`` empty when well."""
        loops = self.heartbeats.statuses()
        problems = [s.problem for s in loops if s.problem] + self.supervisor.problems()
        return {
            "ok": not problems,
            "problems": problems,
            "loops": {s.name: s.as_dict() for s in loops},
            "tasks": self.supervisor.statuses(),
        }

    async def feed_watchdog(self) -> None:
        """Ping systemd's watchdog while every loop is alive; silence makes systemd restart us."""
        seconds = self.systemd.watchdog_seconds or 30.0
        while True:
            problems = self.liveness()["problems"]
            if problems:
                log.error("not feeding the watchdog", problems=problems)
                self.systemd.notify(status="unhealthy: " + "; ".join(problems)[:200])
            else:
                self.systemd.watchdog()
            await asyncio.sleep(seconds / 3)

    def watch_loops(
        self, settings: Settings, *, engine: EngineClient, stream: EventStream,
        resources: ResourceMonitor, notifier: Notifier, db: Database, started_at: float,
        recovery_problems: Callable[[], list[str]] = list,
    ) -> None:
        """Register the heartbeat of each of the agent's loops."""
        periods = self.config.stale_after_periods
        self.heartbeats.add(
            "events", self.config.events_heartbeat_seconds * periods,
            detail=lambda: self._events_detail(engine, stream),
        )
        self.heartbeats.add(
            "sweep",
            settings.health.sweep_interval_seconds * periods
            + settings.docker.request_timeout_seconds,
            detail=lambda: self._task_detail("sweep", engine),
        )
        self.heartbeats.add(
            "rescan",
            settings.rescan_interval_seconds * periods
            + 2 * settings.compose.config_timeout_seconds,
            detail=lambda: self._task_detail("rescan", engine),
        )
        if settings.resources.enabled:
            self.heartbeats.add(
                "sampler", settings.resources.sample_interval_seconds * periods + 10,
                progress=lambda: (s.ts if (s := resources.latest()) else None),
            )
        self.heartbeats.add("notifier", 60, check=lambda: self._notifier_check(notifier))
        # A run ends by its own deadline; a row still running past it means the deadline
        # itself did not work.
        allowed = (settings.recovery.run_timeout_seconds
                   + 2 * settings.docker.request_timeout_seconds)
        stuck = stuck_runs_check(db, started_at, allowed)
        self.heartbeats.add("recovery", allowed,
                            check=lambda: recovery_check(stuck, recovery_problems))
        self.heartbeats.add("store", STORE_PROBE_SECONDS * periods,
                            check=lambda: self._store_check(db))

    def probe_store(self, db: Database) -> None:
        """Write to the store once; remember why it failed, if it did (for ``/healthz``)."""
        try:
            db.execute(
                "INSERT INTO agent_facts (key, value, updated_at) VALUES ('agent-alive', ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (str(time.time()), time.time()),
            )
        except Exception as exc:  # sqlite3.Error, OSError: the store is what is unwell
            self.store_error = f"{type(exc).__name__}: {exc}"
            log.error("store write failed", error=self.store_error)
        else:
            self.store_error = None

    def _store_check(self, db: Database) -> str | None:
        if self.store_error:
            return f"cannot write: {self.store_error}"
        if db.path is not None:
            try:
                free = shutil.disk_usage(db.path.parent).free
            except OSError as exc:
                return f"cannot see the data folder: {exc}"
            if free < STORE_MIN_FREE_BYTES:
                return f"the data folder's filesystem is full ({free // 1024} KiB free)"
        return None

    def _events_detail(self, engine: EngineClient, stream: EventStream) -> str | None:
        if not engine.status.reachable:
            return f"Docker unreachable: {engine.status.error}"
        if not stream.connected.is_set():
            return f"event stream not connected: {stream.error}"
        return self._task_detail("events", engine)

    def _task_detail(self, name: str, engine: EngineClient) -> str | None:
        status = self.supervisor.status.get(name)
        if status is not None and status.last_error:
            return f"last error: {status.last_error}"
        if engine.last_timeout is not None:
            return f"{engine.last_timeout.what} timed out"
        return None

    def _notifier_check(self, notifier: Notifier) -> str | None:
        """None while the notifier's loops run; which ended otherwise."""
        if self.closing:
            return None
        tasks = getattr(notifier, "_tasks", [])  # the notifier's own channel workers
        ended = sorted(t.get_name() for t in tasks if t.done())
        return f"loops ended: {', '.join(ended)}" if ended else None


def recovery_check(stuck: Callable[[], str | None],
                   problems: Callable[[], list[str]]) -> str | None:
    """Runs stuck past their deadline, and runs that raised or timed out, in one sentence."""
    found = [p for p in (stuck(), *problems()) if p]
    return "; ".join(found) if found else None


def stuck_runs_check(db: Database, started_at: float, allowed: float
                     ) -> Callable[[], str | None]:
    """A check naming the deployments whose recovery run (of this agent) outlived ``allowed``."""

    def check() -> str | None:
        # Run rows keep wall-clock times; runs of an earlier agent are not ours to judge.
        rows = db.fetchall(
            "SELECT DISTINCT deployment FROM recovery_runs"
            " WHERE outcome = ? AND started_at >= ? AND started_at < ?",
            (RunOutcome.RUNNING, started_at, time.time() - allowed),
        )
        if not rows:
            return None
        names = ", ".join(sorted(str(r["deployment"]) for r in rows))
        return f"recovery run still running after {allowed:g}s: {names}"

    return check
