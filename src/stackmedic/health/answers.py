"""Plain answers about health: how Docker is seen, and JSON views for the API."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from stackmedic.engine.client import EngineStatus
from stackmedic.health.model import DeploymentHealth, Verdict
from stackmedic.observe.containers import ContainerState


@dataclass(frozen=True)
class EngineView:
    """How well the agent currently sees the Docker Engine."""

    reachable: bool
    synced: bool  # the containers were read since the current connection began
    error: str | None = None


def engine_view(status: EngineStatus, synced: bool) -> EngineView:
    """Read the engine's status and whether the containers were read into an ``EngineView``."""
    if not status.reachable and status.since == 0.0:
        return EngineView(reachable=True, synced=False)  # not asked yet: wait, do not alarm
    return EngineView(status.reachable, synced, status.error)


def summary(name: str, health: DeploymentHealth | None, since: float | None) -> dict[str, Any]:
    """Verdict, reason, since and per-service summary of one deployment."""
    if health is None:
        return {
            "deployment": name,
            "verdict": Verdict.UNKNOWN.value,
            "reason": "no such deployment",
            "since": None,
            "checked_at": None,
            "services": {},
        }
    return {
        "deployment": name,
        "verdict": health.verdict.value,
        "reason": health.reason,
        "since": since,
        "checked_at": health.checked_at,
        "services": health.services_dict(),
    }


def container_detail(c: ContainerState) -> dict[str, Any]:
    """One container's state as the health API shows it."""
    return {
        "service": c.service,
        "container": c.name,
        "id": c.id[:12],
        "number": c.number,
        "image": c.image,
        "status": c.status,
        "health": c.health,
        "health_output": c.health_output,
        "health_failing_streak": c.health_failing_streak,
        "exit_code": None if c.running else c.exit_code,
        "oom_killed": c.oom_killed,
        "restart_count": c.restart_count,
        "restart_policy": c.restart_policy,
        "started_at": c.started_at,
        "finished_at": c.finished_at,
        "error": c.error,
    }


def with_containers(
    answer: dict[str, Any],
    containers: Sequence[ContainerState],
    crashes: Callable[[str], list[tuple[float, int | None]]],
) -> dict[str, Any]:
    """A summary plus every container's state and each service's recent crashes."""
    for service, info in answer["services"].items():
        info["recent_crashes"] = [{"at": at, "exit_code": code} for at, code in crashes(service)]
    answer["containers"] = [container_detail(c) for c in containers]
    return answer
