"""Per-deployment fleet figures: desired state, open problems, recovery runs and give-ups.

Read at scrape time from the durable stores (desired states, ``recovery_runs``,
``recovery_state``) and from the notifier's open ill episodes, so a restarted agent
exposes the same counts it had before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore
from stackmedic.types import DesiredState, RunOutcome

GAVE_UP_PHASE = "gave-up"  # recovery.policy.Phase.GAVE_UP, as stored


def open_problems(
    ill_episodes: Iterable[str], firing_alerts: Iterable[Mapping[str, object]]
) -> dict[str, int]:
    """Open problems per deployment: its open ill episode plus each firing spike alert."""
    counts = dict.fromkeys(ill_episodes, 1)
    for alert in firing_alerts:
        name = alert.get("deployment")
        if isinstance(name, str) and name:
            counts[name] = counts.get(name, 0) + 1
    return counts


class DeploymentMetrics:
    """Desired state, open problems, recovery runs by outcome and give-ups per deployment."""

    def __init__(
        self,
        db: Database,
        desired: DesiredStateStore,
        *,
        deployments: Callable[[], Iterable[str]],
        open_problems: Callable[[], Mapping[str, int]],
    ) -> None:
        self._db = db
        self._desired = desired
        self._deployments = deployments
        self._open_problems = open_problems

    def metric_families(self) -> list[Metric]:
        """The families, one series per known deployment (recovery runs: per outcome seen)."""
        names = sorted(self._deployments())
        desired = GaugeMetricFamily(
            "stackmedic_deployment_desired_state",
            "1 for the deployment's current desired state (running or stopped), 0 for the other.",
            labels=["deployment", "state"],
        )
        records = self._desired.all()
        for name in names:
            record = records.get(name)
            for state in DesiredState:
                current = record is not None and record.state is state
                desired.add_metric([name, state.value], 1 if current else 0)
        problems = GaugeMetricFamily(
            "stackmedic_open_problems",
            "Problems open now: the deployment's ill episode plus its firing spike alerts.",
            labels=["deployment"],
        )
        open_now = self._open_problems()
        for name in names:
            problems.add_metric([name], open_now.get(name, 0))
        gave_up = GaugeMetricFamily(
            "stackmedic_recovery_gave_up",
            "1 while recovery has given up on the deployment and waits for a person.",
            labels=["deployment"],
        )
        given_up = {
            row["deployment"]
            for row in self._db.fetchall(
                "SELECT deployment FROM recovery_state WHERE phase = ?", (GAVE_UP_PHASE,)
            )
        }
        for name in names:
            gave_up.add_metric([name], 1 if name in given_up else 0)
        return [desired, problems, self._runs(), gave_up]

    def _runs(self) -> Metric:
        runs = CounterMetricFamily(
            "stackmedic_recovery_runs",
            "Finished recovery runs by outcome (recovered, failed, gave-up, skipped, ...).",
            labels=["deployment", "outcome"],
        )
        rows = self._db.fetchall(
            "SELECT deployment, outcome, COUNT(*) AS n FROM recovery_runs"
            " WHERE outcome != ? GROUP BY deployment, outcome"
            " ORDER BY deployment, outcome", (RunOutcome.RUNNING,)
        )
        for row in rows:
            runs.add_metric([row["deployment"], row["outcome"]], row["n"])
        return runs
