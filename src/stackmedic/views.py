"""JSON views of deployments shared by the API, the CLI and the dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackmedic.deployments.attention import DOWN, needs_attention
from stackmedic.deployments.model import Deployment

if TYPE_CHECKING:
    from stackmedic.readmodel import AgentView


def observed_state(agent: AgentView, deployment: Deployment) -> str:
    """A one-word observed state: invalid / unknown / running / partial / stopped."""
    if not deployment.valid:
        return "invalid"
    if not agent.engine.status.reachable or agent.observed.synced_at is None:
        return "unknown"
    containers = agent.observed.for_project(deployment.project)
    running = {c.service for c in containers if c.running}
    expected = set(deployment.services) or {c.service for c in containers}
    if expected and running >= expected:
        return "running"
    if running:
        return "partial"
    return "stopped"


def deployment_row(agent: AgentView, deployment: Deployment) -> dict[str, Any]:
    """The summary of one deployment for lists."""
    desired = agent.desired.get(deployment.name)
    containers = agent.observed.for_project(deployment.project)
    row = {
        "name": deployment.name,
        "project": deployment.project,
        "kind": deployment.kind.value,
        "state": observed_state(agent, deployment),
        "desired": desired.as_dict() if desired else None,
        "services": len(deployment.services),
        "containers": {
            "total": len(containers),
            "running": sum(1 for c in containers if c.running),
        },
        "error": deployment.error,
    }
    summary = agent.health.verdict_summary(deployment.name)
    row["health"] = summary
    row["attention"] = deployment_attention(agent, deployment, summary.get("verdict"))
    return row


def deployment_detail(agent: AgentView, deployment: Deployment | None) -> dict[str, Any]:
    """Everything known about one deployment."""
    assert deployment is not None
    containers = agent.observed.for_project(deployment.project)
    services = []
    for name in sorted(set(deployment.services) | {c.service for c in containers}):
        spec = deployment.services.get(name)
        own = agent.desired.get(deployment.name, name)
        services.append({
            "name": name,
            "declared": spec is not None,
            "image": spec.image if spec else None,
            "restart_policy": spec.restart if spec else None,
            "has_healthcheck": spec.has_healthcheck if spec else False,
            "recover": spec.recover if spec else True,
            "desired_override": own.as_dict() if own else None,
            "containers": [c.as_dict() for c in containers if c.service == name],
        })
    return {**deployment_row(agent, deployment), **deployment.summary(),
            "services": services, "external_networks": deployment.external_networks}


def deployment_attention(agent: AgentView, deployment: Deployment,
                         verdict: str | None) -> dict[str, Any] | None:
    """``needs_attention`` for one deployment of a running agent, JSON-ready."""
    desired = agent.desired.get(deployment.name)
    found = needs_attention(
        verdict, desired.state.value if desired else None,
        recovery_enabled=agent.settings.recovery.enabled,
        recoverable=not deployment.services or any(
            spec.recover for spec in deployment.services.values()),
        recovery=agent.recovery.state(deployment.name) if verdict == DOWN else None,
    )
    return found.as_dict(deployment.name) if found else None
