"""The verdict on a deployment, computed from its definition, containers and desired state.

Pure: everything it needs comes in a ``HealthInputs``; nothing is read from elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from stackmedic.deployments.model import Deployment
from stackmedic.health.model import (
    STATUS_ORDER,
    CrashLoop,
    DeploymentHealth,
    ProbeStanding,
    ServiceHealth,
    ServiceStatus,
    Verdict,
    first_line,
)
from stackmedic.observe.containers import ContainerState
from stackmedic.types import DesiredState

_RANK = {status: rank for rank, status in enumerate(STATUS_ORDER)}


@dataclass(frozen=True)
class HealthInputs:
    """Everything the verdict on one deployment depends on."""

    deployment: Deployment
    containers: Sequence[ContainerState]
    desired: DesiredState | None
    now: float
    service_desired: Mapping[str, DesiredState] = field(default_factory=dict)
    reachable: bool = True
    synced: bool = True
    engine_error: str | None = None
    starting_until: float | None = None
    crash_loops: Mapping[str, CrashLoop] = field(default_factory=dict)
    stopping: str | None = None  # why its containers are being stopped on purpose, if they are
    deploying_until: float | None = None  # end of the grace of someone else's redeploy
    recovering: str | None = None  # what stackmedic's own recovery is doing, while it acts
    # Containers unpaused since their last healthcheck: engine 20.10 marks a paused
    # container ``unhealthy`` (with no failing check) and keeps that mark after ``unpause``
    # until its next check runs, up to one healthcheck interval later.
    unpaused: frozenset[str] = frozenset()
    # What firing log-pattern rules with ``affects_health: true`` say (``logwatch``).
    log_problems: tuple[str, ...] = ()
    probes: Mapping[str, ProbeStanding] = field(default_factory=dict)  # by service
    # Scaled services a person keeps at fewer running containers than they have.
    scales: Mapping[str, int] = field(default_factory=dict)


def with_probe(service: ServiceHealth, standing: ProbeStanding | None) -> ServiceHealth:
    """A running service whose endpoint probe fails is unhealthy, with the probe's reason."""
    # behaviour: probe-fails-restart-cures, probe-deadlock-give-up
    if standing is None or service.status is not ServiceStatus.RUNNING:
        return service
    if standing.failing:
        return replace(service, status=ServiceStatus.UNHEALTHY, health_output=standing.failing)
    if standing.waiting:
        return replace(service, status=ServiceStatus.STARTING, health_output=standing.waiting)
    return service


def container_status(
    container: ContainerState, unpaused: frozenset[str] = frozenset()
) -> ServiceStatus:
    """What one container says about its service."""
    status = container.status
    if status == "running":
        if container.health == "unhealthy" and container.id in unpaused:
            return ServiceStatus.STARTING  # not checked since its pause: no check failed
        if container.health == "unhealthy":
            return ServiceStatus.UNHEALTHY
        if container.health == "starting":
            return ServiceStatus.STARTING
        return ServiceStatus.RUNNING
    if status == "restarting":
        return ServiceStatus.RESTARTING
    if status == "paused":
        return ServiceStatus.PAUSED
    if status == "created":
        return ServiceStatus.CREATED
    if status == "dead":
        return ServiceStatus.DEAD
    if container.completed:
        return ServiceStatus.COMPLETED
    return ServiceStatus.EXITED


def kept_running(containers: Sequence[ContainerState], wanted: int | None
                 ) -> Sequence[ContainerState]:
    """The containers a service is judged by: when a person keeps only ``wanted`` of them
    running and at least that many run, the running ones (the rest are stopped on purpose).
    behaviour: scale-stop-some-person
    """
    running = [c for c in containers if c.running]
    return running if wanted is not None and running and len(running) >= wanted \
        else containers


def service_health(
    name: str,
    containers: Sequence[ContainerState],
    desired: DesiredState | None,
    crash_loop: CrashLoop | None,
    unpaused: frozenset[str] = frozenset(),
) -> ServiceHealth:
    """Roll one service's containers up into its status (the worst container decides)."""
    running = sum(1 for c in containers if c.running)
    restarts = max((c.restart_count for c in containers), default=0)
    desired_value = desired.value if desired else None
    if desired is DesiredState.STOPPED and running == 0:
        return ServiceHealth(
            name,
            ServiceStatus.STOPPED,
            len(containers),
            0,
            restart_count=restarts,
            desired=desired_value,
        )
    if not containers:
        return ServiceHealth(name, ServiceStatus.MISSING, desired=desired_value)
    ranked = sorted(containers, key=lambda c: _RANK[container_status(c, unpaused)])
    worst = ranked[0]
    status = container_status(worst, unpaused)
    exit_codes: tuple[int, ...] = ()
    if crash_loop is not None and desired is not DesiredState.STOPPED:
        exit_codes = crash_loop.exit_codes
        if crash_loop.confirmed:
            status = ServiceStatus.CRASH_LOOPING
        elif status in (ServiceStatus.RESTARTING, ServiceStatus.RUNNING):
            status = ServiceStatus.STARTING  # Docker's policy restarts it: on probation
    latest = max(containers, key=lambda c: c.finished_at or 0.0)
    stopped = worst if not worst.running else latest
    unhealthy = next((c for c in ranked
                      if container_status(c, unpaused) is ServiceStatus.UNHEALTHY), None)
    return ServiceHealth(
        name=name,
        status=status,
        containers=len(containers),
        running=running,
        exit_code=None if stopped.running else stopped.exit_code,
        oom_killed=stopped.oom_killed or bool(crash_loop and crash_loop.oom_kills),
        health_output=(unhealthy or worst).health_output,
        restart_count=restarts,
        exit_codes=exit_codes,
        desired=desired_value,
        oom_kills=max(c.oom_kills for c in containers),
        stopped_exit=not stopped.running and stopped.exit_cause == "stop",
        start_error=None if worst.running else worst.error,
    )


def _hard_failure(service: ServiceHealth) -> bool:
    """A failure that the start grace period must not hide."""
    if service.status in (ServiceStatus.CRASH_LOOPING, ServiceStatus.DEAD):
        return True
    # A stop's exit code (143, 137, ...) says nothing about a start that follows it.
    # behaviour: stop-start-stackmedic, start-docker
    return (service.status is ServiceStatus.EXITED and service.exit_code not in (None, 0)
            and not service.stopped_exit)


def _phrase(services: Sequence[ServiceHealth]) -> str:
    ordered = sorted(services, key=lambda s: (_RANK[s.status], s.name))
    return "; ".join(s.describe() for s in ordered)


def evaluate(inputs: HealthInputs) -> DeploymentHealth:
    """The verdict on one deployment, with its reason and per-service statuses."""
    deployment = inputs.deployment
    name = deployment.name
    now = inputs.now
    if not deployment.valid:
        return DeploymentHealth(
            name,
            Verdict.INVALID,
            f"compose file invalid: {first_line(deployment.error) or 'no details'}",
            checked_at=now,
        )
    if not inputs.reachable:
        return DeploymentHealth(
            name,
            Verdict.UNKNOWN,
            f"Docker unreachable: {first_line(inputs.engine_error) or 'no answer'}",
            checked_at=now,
        )
    if not inputs.synced:
        return DeploymentHealth(name, Verdict.UNKNOWN, "Docker not read yet", checked_at=now)

    by_service: dict[str, list[ContainerState]] = {}
    for container in inputs.containers:
        by_service.setdefault(container.service, []).append(container)
    names = sorted(deployment.services) or sorted(by_service)
    desired = inputs.desired
    if desired is None:  # nothing recorded yet: take what is seen, as first sight does
        seen_running = any(c.running for c in inputs.containers)
        desired = DesiredState.RUNNING if seen_running else DesiredState.STOPPED
    services = tuple(
        with_probe(service_health(
            s,
            kept_running(by_service.get(s, []), inputs.scales.get(s)),
            inputs.service_desired.get(s, desired),
            inputs.crash_loops.get(s),
            inputs.unpaused,
        ), inputs.probes.get(s))
        for s in names
    )
    recheck = [loop.until for s, loop in inputs.crash_loops.items() if s in names]

    def verdict(value: Verdict, reason: str, *extra: float) -> DeploymentHealth:
        times = [t for t in (*recheck, *extra) if t > now]
        return DeploymentHealth(name, value, reason, services, now, min(times) if times else None)

    wanted = [s for s in services if s.desired != DesiredState.STOPPED.value]
    judged = _judge(inputs, services, wanted, verdict)
    if judged.verdict is Verdict.HEALTHY and inputs.log_problems:
        return verdict(Verdict.DEGRADED, f"logs: {'; '.join(inputs.log_problems)}")
    if judged.verdict.fine:
        return judged
    deploying = inputs.deploying_until
    if deploying is not None and now < deploying:
        return verdict(Verdict.DEPLOYING, f"deploying: {judged.reason}", deploying)
    if inputs.stopping:
        return verdict(Verdict.STOPPING, f"stopping: {inputs.stopping}")
    if inputs.recovering and judged.verdict.ill:
        return verdict(Verdict.STARTING, f"starting: {inputs.recovering}: {judged.reason}")
    return judged


def _judge(
    inputs: HealthInputs,
    services: tuple[ServiceHealth, ...],
    wanted: list[ServiceHealth],
    verdict: Callable[..., DeploymentHealth],
) -> DeploymentHealth:
    """The verdict from the containers alone, before redeploys and stops on purpose."""
    if not wanted:
        serving = [s.name for s in services if s.serving]
        note = f" ({', '.join(serving)} still running)" if serving else ""
        return verdict(Verdict.STOPPED, f"stopped as desired{note}")
    # behaviour: pause-person, pause-one-of-several, pause-compose
    paused = [s for s in wanted if s.status is ServiceStatus.PAUSED]
    active = [s for s in wanted if s.status is not ServiceStatus.PAUSED]
    if not paused:
        return _judge_active(inputs, services, active, verdict)
    names = ", ".join(s.name for s in paused)
    if not active:
        return verdict(Verdict.PAUSED, f"paused: {names}")
    others = tuple(s for s in services if s.status is not ServiceStatus.PAUSED)
    judged = _judge_active(inputs, others, active, verdict)
    if judged.verdict is Verdict.HEALTHY:
        # Paused on purpose: told as paused, not healthy, since those services do not answer.
        return verdict(Verdict.PAUSED, f"paused: {names}; {judged.reason}")
    return replace(judged, reason=f"{judged.reason}; {names} paused")


def _judge_active(
    inputs: HealthInputs,
    services: tuple[ServiceHealth, ...],
    wanted: list[ServiceHealth],
    verdict: Callable[..., DeploymentHealth],
) -> DeploymentHealth:
    """The verdict from the services wanted running that are not paused."""
    now = inputs.now
    problems = [s for s in wanted if s.problem]
    waiting = [s for s in wanted if s.status is ServiceStatus.STARTING]
    in_grace = inputs.starting_until is not None and now < inputs.starting_until
    if in_grace and (problems or waiting) and not any(_hard_failure(s) for s in problems):
        assert inputs.starting_until is not None
        return verdict(
            Verdict.STARTING, f"starting: {_phrase(problems + waiting)}", inputs.starting_until
        )
    only_jobs = all(s.status is ServiceStatus.COMPLETED for s in wanted)
    if not any(s.serving for s in wanted) and not only_jobs:
        if problems:
            return verdict(Verdict.DOWN, _phrase(problems))
        return verdict(Verdict.DOWN, "no service is running")
    if problems:
        return verdict(Verdict.DEGRADED, _phrase(problems))
    if waiting:
        return verdict(Verdict.STARTING, f"starting: {_phrase(waiting)}")
    return verdict(Verdict.HEALTHY, _healthy_reason(services))


def _healthy_reason(services: Sequence[ServiceHealth]) -> str:
    running = [s.name for s in services if s.status is ServiceStatus.RUNNING]
    if len(services) == 1 and running:
        parts = [f"{running[0]} running"]
    elif len(running) == len(services):
        parts = [f"all {len(services)} services running"]
    else:
        parts = [f"{len(running)} of {len(services)} services running"]
    completed = [s.name for s in services if s.status is ServiceStatus.COMPLETED]
    stopped = [s.name for s in services if s.status is ServiceStatus.STOPPED]
    if completed:
        parts.append(f"{', '.join(completed)} completed")
    if stopped:
        parts.append(f"{', '.join(stopped)} stopped as desired")
    return "; ".join(parts)
