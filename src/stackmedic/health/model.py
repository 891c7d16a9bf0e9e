"""Health verdicts of deployments and the status of each of their services."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from stackmedic.types import Severity


class Verdict(StrEnum):
    """The one-word health of a deployment."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"
    STOPPED = "stopped"
    STARTING = "starting"
    UNKNOWN = "unknown"
    INVALID = "invalid"
    STOPPING = "stopping"  # stopped on purpose, or waiting to be judged so: never an alarm
    DEPLOYING = "deploying"  # someone else's Compose command is (re)creating its containers
    PAUSED = "paused"  # a person paused some of its services (``docker pause``): never an alarm

    @property
    def ill(self) -> bool:
        """Whether this verdict is a problem a person must hear about."""
        return self in (Verdict.DOWN, Verdict.DEGRADED, Verdict.INVALID)

    @property
    def fine(self) -> bool:
        """Whether this verdict ends an ill episode: healthy, stopped as desired, or paused
        on purpose with the rest healthy."""
        return self in (Verdict.HEALTHY, Verdict.STOPPED, Verdict.PAUSED)

    @property
    def severity(self) -> Severity:
        """How much attention a deployment in this verdict needs."""
        if self is Verdict.DOWN:
            return Severity.CRITICAL
        if self in (Verdict.DEGRADED, Verdict.UNKNOWN, Verdict.INVALID):
            return Severity.WARNING
        return Severity.INFO


class ServiceStatus(StrEnum):
    """What one service of a deployment is doing, in the user's words."""

    RUNNING = "running"
    STARTING = "starting"  # running, its healthcheck has not passed yet
    UNHEALTHY = "unhealthy"
    RESTARTING = "restarting"
    CRASH_LOOPING = "crash-looping"
    EXITED = "exited"
    COMPLETED = "completed"  # exited with code 0 and no restart policy: a one-shot job
    CREATED = "created"
    PAUSED = "paused"  # frozen by ``docker pause``: on purpose, never a problem
    DEAD = "dead"
    MISSING = "missing"  # declared in the compose file, no container at all
    STOPPED = "stopped"  # desired stopped

    @property
    def serving(self) -> bool:
        """Whether the service's process runs (even if its healthcheck fails)."""
        return self in (ServiceStatus.RUNNING, ServiceStatus.STARTING, ServiceStatus.UNHEALTHY)

    @property
    def fine(self) -> bool:
        """Whether this status is no problem for a deployment wanted running."""
        return self in (
            ServiceStatus.RUNNING,
            ServiceStatus.STARTING,
            ServiceStatus.COMPLETED,
            ServiceStatus.STOPPED,
            ServiceStatus.PAUSED,
        )


# Worst first: the status a service with several containers reports.
STATUS_ORDER = (
    ServiceStatus.CRASH_LOOPING,
    ServiceStatus.DEAD,
    ServiceStatus.EXITED,
    ServiceStatus.RESTARTING,
    ServiceStatus.PAUSED,
    ServiceStatus.CREATED,
    ServiceStatus.UNHEALTHY,
    ServiceStatus.MISSING,
    ServiceStatus.STARTING,
    ServiceStatus.COMPLETED,
    ServiceStatus.RUNNING,
    ServiceStatus.STOPPED,
)


@dataclass(frozen=True)
class CrashLoop:
    """Crashes of one service inside the detection window."""

    crashes: int
    exit_codes: tuple[int, ...]
    last_at: float
    until: float  # when, without new crashes, fewer than the threshold remain in the window
    confirmed: bool = True  # False: below the threshold, on probation while Docker restarts it
    oom_kills: int = 0  # how many of the crashes were OOM kills


@dataclass(frozen=True)
class ProbeStanding:
    """What a service's endpoint probes say about it (``stackmedic.probes``)."""

    failing: str | None = None  # its probe failed enough times in a row: why
    waiting: str | None = None  # freshly started, no probe has passed yet


@dataclass(frozen=True)
class ServiceHealth:
    """The health of one service, rolled up from its containers."""

    name: str
    status: ServiceStatus
    containers: int = 0
    running: int = 0
    exit_code: int | None = None
    oom_killed: bool = False
    health_output: str | None = None
    restart_count: int = 0
    exit_codes: tuple[int, ...] = ()
    desired: str | None = None
    oom_kills: int = 0  # so far, across container recreation
    stopped_exit: bool = False  # its last exit was a stop's (a person's, ours, a shutdown's)
    start_error: str | None = None  # why the engine could not start its container

    @property
    def serving(self) -> bool:
        """Whether at least one of its containers serves (a crash loop never does)."""
        if self.status is ServiceStatus.CRASH_LOOPING:
            return False
        return self.status.serving or self.running > 0

    @property
    def problem(self) -> bool:
        """Whether this status counts against the deployment."""
        return not self.status.fine

    def describe(self) -> str:
        """A short human phrase: ``api exited with code 3 (OOM killed)``."""
        text = f"{self.name} {self.status.value}"
        if self.status is ServiceStatus.CRASH_LOOPING:
            codes = ", ".join(str(c) for c in self.exit_codes) or "unknown"
            text += f" (exit codes {codes})"
        elif self.status is ServiceStatus.STARTING and self.exit_codes:
            text += f" again after exit code {self.exit_codes[-1]}"  # restarted by Docker
        elif self.status in (ServiceStatus.EXITED, ServiceStatus.DEAD) and (
            self.exit_code is not None
        ):
            text += f" with code {self.exit_code}"
        if self.oom_killed and self.status is not ServiceStatus.RUNNING:
            text += " (OOM killed)"
        if self.containers > 1 and self.status is not ServiceStatus.STOPPED:
            text += f" ({self.running}/{self.containers} containers running)"
        if self.status is ServiceStatus.UNHEALTHY and self.health_output:
            text += f": {first_line(self.health_output)}"
        if self.start_error and self.status in (ServiceStatus.CREATED, ServiceStatus.EXITED):
            text += f" (start failed: {first_line(self.start_error)})"
        return text

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "status": self.status.value,
            "containers": self.containers,
            "running": self.running,
            "exit_code": self.exit_code,
            "oom_killed": self.oom_killed,
            "health_output": self.health_output,
            "restart_count": self.restart_count,
            "exit_codes": list(self.exit_codes),
            "desired": self.desired,
            "oom_kills": self.oom_kills,
            "start_error": self.start_error,
        }


@dataclass(frozen=True)
class DeploymentHealth:
    """The verdict on one deployment with its reason and per-service statuses."""

    deployment: str
    verdict: Verdict
    reason: str
    services: tuple[ServiceHealth, ...] = ()
    checked_at: float = 0.0
    recheck_at: float | None = None  # when time alone may change the verdict

    def signature(self) -> Signature:
        """What must differ for a change to count as a transition (not the wording)."""
        return signature(
            self.verdict.value, [s.as_dict() | {"name": s.name} for s in self.services]
        )

    def service(self, name: str) -> ServiceHealth | None:
        """One service's health, if the deployment has it."""
        return next((s for s in self.services if s.name == name), None)

    def services_dict(self) -> dict[str, dict[str, Any]]:
        """Per-service summaries by service name."""
        return {s.name: s.as_dict() for s in self.services}


@dataclass(frozen=True)
class HealthTransition:
    """A deployment's health changed: published on the bus and kept in its history."""

    deployment: str
    previous: Verdict | None  # None the first time the deployment is judged
    current: DeploymentHealth
    at: float
    history_id: int = 0
    changed_services: tuple[str, ...] = field(default=())
    # How long a fine verdict must hold before it ends an ill episode (``flaps.py``), and
    # the healthcheck's flap so far: "flapping: healthy/unhealthy 5 times in 48 s".
    settle_for: float = 0.0
    flap: str | None = None

    @property
    def verdict(self) -> Verdict:
        """The new verdict."""
        return self.current.verdict

    @property
    def reason(self) -> str:
        """Why, in words."""
        return self.current.reason

    @property
    def verdict_changed(self) -> bool:
        """False when only the status of some service changed."""
        return self.previous is not self.current.verdict


Signature = tuple[str, tuple[tuple[str, str], ...]]


def signature(verdict: str, services: list[dict[str, Any]]) -> Signature:
    """The verdict and each service's status; services meant to be stopped count as stopped."""
    return verdict, tuple(
        (str(s["name"]), "stopped" if s.get("desired") == "stopped" else str(s.get("status")))
        for s in sorted(services, key=lambda s: str(s["name"]))
    )


def first_line(text: str | None, limit: int = 200) -> str:
    """The first non-empty line of ``text``, cut to ``limit`` characters."""
    for line in (text or "").splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""
