"""The agent's own fleet figures: restart reconciles, the notification outbox, heartbeats.

Counters are kept durable so that they only grow across agent restarts and history
pruning: restart reconciles are counted in the facts table as they start, and delivery
failures of pruned notifications are carried into the facts table by the outbox's prune.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from stackmedic.bus import Bus
from stackmedic.notify.outbox import OPEN_STATUSES, PRUNED_FAILURES_FACT
from stackmedic.recovery.events import RestartReconcileStarted
from stackmedic.store.db import Database
from stackmedic.store.facts import Facts
from stackmedic.supervise.heartbeat import Heartbeats

RECONCILE_FACT = "metrics.restart-reconciles."
RESTART_KINDS = ("host", "daemon")


class ReconcileCounter:
    """Counts restart reconciles by kind (host, daemon) in the facts table, as they start."""

    def __init__(self, facts: Facts) -> None:
        self._facts = facts

    def subscribe(self, bus: Bus) -> None:
        """Count every ``RestartReconcileStarted`` published on ``bus``."""
        bus.subscribe(RestartReconcileStarted, self.on_started, name="metrics.reconciles")

    async def on_started(self, event: RestartReconcileStarted) -> None:
        """Add one to the kind's count."""
        key = RECONCILE_FACT + event.kind
        self._facts.set(key, str(self.count(event.kind) + 1))

    def count(self, kind: str) -> int:
        """Reconciles of ``kind`` counted so far."""
        return int(self._facts.get(RECONCILE_FACT + kind) or 0)


class AgentMetrics:
    """Restart reconciles, outbox depth, delivery failures and loop heartbeats."""

    def __init__(
        self,
        db: Database,
        reconciles: ReconcileCounter,
        heartbeats: Heartbeats,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._reconciles = reconciles
        self._heartbeats = heartbeats
        self._clock = clock

    def metric_families(self) -> list[Metric]:
        """The families, read now."""
        reconciles = CounterMetricFamily(
            "stackmedic_restart_reconciles",
            "Reconciles of every deployment after a host or Docker daemon restart.",
            labels=["kind"],
        )
        for kind in RESTART_KINDS:
            reconciles.add_metric([kind], self._reconciles.count(kind))
        placeholders = ", ".join("?" * len(OPEN_STATUSES))
        row = self._db.fetchone(
            "SELECT COUNT(*) AS n FROM notification_deliveries"
            f" WHERE status IN ({placeholders})",
            OPEN_STATUSES,
        )
        pending = GaugeMetricFamily(
            "stackmedic_notification_outbox_pending",
            "Deliveries in the outbox not yet sent (grouping, due or retrying).",
            value=row["n"] if row else 0,
        )
        return [reconciles, pending, self._failures(), self._beats()]

    def _failures(self) -> Metric:
        failures = CounterMetricFamily(
            "stackmedic_notification_failures",
            "Failed delivery attempts per channel (an Alertmanager cluster member: name#N).",
            labels=["channel"],
        )
        totals: dict[str, int] = {}
        for row in self._db.fetchall(
            "SELECT channel, SUM(attempts - (status IN ('sent', 'sending'))) AS n"
            " FROM notification_deliveries GROUP BY channel"
        ):
            totals[row["channel"]] = int(row["n"] or 0)
        for row in self._db.fetchall(
            "SELECT key, value FROM agent_facts WHERE key LIKE ?", (PRUNED_FAILURES_FACT + "%",)
        ):
            channel = str(row["key"])[len(PRUNED_FAILURES_FACT):]
            totals[channel] = totals.get(channel, 0) + int(row["value"])
        for channel in sorted(totals):
            failures.add_metric([channel], totals[channel])
        return failures

    def _beats(self) -> Metric:
        beats = GaugeMetricFamily(
            "stackmedic_agent_heartbeat_timestamp_seconds",
            "When each of the agent's loops last made progress (Unix time).",
            labels=["loop"],
        )
        now = self._clock()
        for status in self._heartbeats.statuses():
            beats.add_metric([status.name], now - status.seconds_since_progress)
        return beats
