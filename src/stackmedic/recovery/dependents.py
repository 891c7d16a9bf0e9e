"""Dependents follow: what must be restarted after a service is started, restarted or recreated.

A service sharing another's network namespace (``network_mode: service:X``) keeps the
namespace of the container it joined; once X's container is restarted or replaced, the
sidecar is cut off until it is recreated. A service that ``depends_on`` X is restarted so
it reconnects to the new X. Both come after X, in dependency order, and are verified with it.
"""

from __future__ import annotations

from stackmedic.recovery.evidence import Evidence, dependency_order
from stackmedic.recovery.suggestions import ServiceAction, Suggestion

# Actions that give a service a new process (and a new network namespace).
RENEWING = (ServiceAction.START, ServiceAction.RESTART, ServiceAction.RECREATE,
            ServiceAction.PULL, ServiceAction.REBUILD)
SKIPPED_STATUSES = ("completed", "stopped", "missing")


def _dependents(evidence: Evidence, service: str) -> dict[str, ServiceAction]:
    found: dict[str, ServiceAction] = {}
    for name, other in evidence.services.items():
        if name == service or other.desired == "stopped" or other.status in SKIPPED_STATUSES:
            continue
        if other.network_mode == f"service:{service}":
            found[name] = ServiceAction.RECREATE
        elif service in other.depends_on:
            found[name] = ServiceAction.RESTART
    return found


def with_dependents(suggestions: list[Suggestion], evidence: Evidence) -> list[Suggestion]:
    """``suggestions`` followed by the restarts of their dependents, in dependency order."""
    # A service without a container gets a new one from its start, as a recreate gives.
    recreated = {s.service for s in suggestions if s.action == ServiceAction.RECREATE or (
        s.action == ServiceAction.START and s.service in evidence.services
        and evidence.services[s.service].status == "missing")}
    suggestions = [_upgraded(s, evidence, recreated) for s in suggestions]
    acted = {s.service for s in suggestions if s.action in RENEWING}
    planned = {s.service for s in suggestions}
    follow: dict[str, tuple[ServiceAction, str]] = {}
    queue = sorted(acted)
    while queue:
        service = queue.pop(0)
        for name, action in _dependents(evidence, service).items():
            if name in planned or name in follow:
                continue
            follow[name] = (action, service)
            queue.append(name)
    if not follow:
        return suggestions
    order = dependency_order({n: s.depends_on + _mode_target(s.network_mode)
                              for n, s in evidence.services.items()})
    extra = []
    for name in order:
        if name not in follow:
            continue
        action, cause = follow[name]
        how = "shares the network namespace of" if action == ServiceAction.RECREATE \
            else "depends on"
        extra.append(Suggestion(
            service=name, action=action, title=f"{action.value} {name}",
            reason=f"{name} {how} {cause}, which is brought back first"))
    return [*suggestions, *extra]


def _mode_target(mode: str | None) -> list[str]:
    if mode and mode.startswith("service:"):
        return [mode.split(":", 1)[1]]
    return []


def _upgraded(suggestion: Suggestion, evidence: Evidence, recreated: set[str]) -> Suggestion:
    """A planned start of a sidecar whose namespace owner gets a new container becomes a
    recreate: its own container still names the old one."""
    service = evidence.services.get(suggestion.service)
    target = _mode_target(service.network_mode if service else None)
    if target and target[0] in recreated and suggestion.action in (
            ServiceAction.START, ServiceAction.RESTART):
        return suggestion.model_copy(update={
            "action": ServiceAction.RECREATE, "title": f"recreate {suggestion.service}"})
    return suggestion
