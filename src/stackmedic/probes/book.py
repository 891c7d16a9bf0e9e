"""What the probes found so far: per probe its last results, its run of failures, its
latency history; and from that what each service's probes say to its verdict."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from stackmedic.health.model import ProbeStanding
from stackmedic.observe.containers import ContainerState
from stackmedic.probes.result import ProbeResult
from stackmedic.probes.spec import ProbeSpec
from stackmedic.types import ProbeFailure

HISTORY = 360  # results kept per probe for the latency chart (an hour at 10 s)
Key = tuple[str, str, str]


def run_of(container: ContainerState) -> str:
    """One run of a container: a restart keeps its id, not its start time."""
    return f"{container.id}@{container.started_at or 0:.6f}"


@dataclass
class ProbeRecord:
    """The results of one probe, for the current run of the container it probes."""

    spec: ProbeSpec
    run: str = ""
    started_at: float | None = None  # of that run
    last: ProbeResult | None = None
    failures: int = 0  # in a row, on this run
    passed: bool = False  # at least once on this run
    skipped: str | None = None  # why it is not probed now
    history: deque[ProbeResult] = field(default_factory=lambda: deque(maxlen=HISTORY))

    def record(self, run: str, started_at: float | None, result: ProbeResult) -> None:
        """Count one result; a new run of the container starts counting afresh."""
        if run != self.run:
            self.run, self.started_at, self.failures, self.passed = run, started_at, 0, False
        self.last, self.skipped = result, None
        self.history.append(result)
        if result.ok:
            self.failures, self.passed = 0, True
        elif result.failure is not ProbeFailure.NAMESPACE:
            # Not entering the namespace (no permission, the container just went) says
            # nothing of the service: it is shown, never counted against it.
            self.failures += 1

    @property
    def failing(self) -> bool:
        """Whether it failed enough times in a row to count."""
        return self.failures >= self.spec.failures

    def failing_reason(self) -> str:
        """``probe http://:8080/ failed 3 times in a row: HTTP 500``."""
        reason = self.last.reason if self.last else "no answer"
        times = "once" if self.failures == 1 else f"{self.failures} times in a row"
        return f"probe {self.spec.target} failed {times}: {reason}"


class ProbeBook:
    """Every probe's record; the host-wide failure state."""

    def __init__(self, grace: float) -> None:
        self._grace = grace
        self._records: dict[Key, ProbeRecord] = {}
        self.host_down: str | None = None  # why every probe of the host fails at once

    def sync(self, specs: Iterable[ProbeSpec]) -> None:
        """Keep records of the probes declared now, drop the others."""
        wanted = {spec.key: spec for spec in specs}
        for key in set(self._records) - set(wanted):
            del self._records[key]
        for key, spec in wanted.items():
            record = self._records.get(key)
            if record is None:
                self._records[key] = ProbeRecord(spec)
            elif record.spec != spec:
                record.spec = spec

    def get(self, key: Key) -> ProbeRecord | None:
        """One probe's record."""
        return self._records.get(key)

    def records(self, deployment: str | None = None) -> list[ProbeRecord]:
        """Every record, or one deployment's, in a stable order."""
        return [r for k, r in sorted((k, r) for k, r in self._records.items()
                                     if deployment is None or k[0] == deployment)]

    def standing(self, deployment: str, containers: Sequence[ContainerState], now: float
                 ) -> Mapping[str, ProbeStanding]:
        """What the probes say of each service of ``deployment`` whose container runs."""
        if self.host_down:
            return {}  # the host's problem, told once: not each service's
        runs = {run_of(c): c for c in containers if c.running}
        answer: dict[str, ProbeStanding] = {}
        for record in self.records(deployment):
            service = record.spec.service
            if not service:
                continue
            current = record.run in runs
            if current and record.failing:
                answer[service] = ProbeStanding(failing=record.failing_reason())
                continue
            if service in answer:
                continue
            started = [c.started_at or 0.0 for c in containers
                       if c.running and c.service == service]
            fresh = bool(started) and now - max(started) < self.window(record.spec)
            if fresh and not (current and record.passed):
                answer[service] = ProbeStanding(waiting=f"probe {record.spec.target} "
                                                        "has not passed yet")
        return answer

    def window(self, spec: ProbeSpec) -> float:
        """How long after a start a probe that never passed keeps its service starting."""
        return self._grace + spec.failures * spec.interval + spec.timeout + spec.interval
