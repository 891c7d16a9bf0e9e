"""Pure mapping from the agent's internal events to notification events."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from stackmedic.health.flaps import healthcheck_only
from stackmedic.health.model import HealthTransition, Verdict
from stackmedic.notify.models import NotificationEvent
from stackmedic.notify.types import NotificationKind
from stackmedic.recovery.events import RecoveryEvent
from stackmedic.types import EventKind, Severity

# The ``failing`` detail of a problem whose ill side is a failing healthcheck alone: it may
# be a flap, so an agent started again ends it only once it has held fine for a while.
HEALTHCHECK_ONLY = "its healthcheck alone"

DetailValue = str | int | float | None


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _fingerprint(deployment: str) -> str:
    return f"ill-health:{deployment}"


def from_health(
    transition: HealthTransition, *, recovery_note: str | None
) -> NotificationEvent | None:
    """The ``ill-health`` event of an ill verdict, the ``recovered`` one of a fine one."""
    if transition.verdict.ill:
        return problem_event(transition, recovery_note=recovery_note)
    if transition.verdict.fine:
        return resolved_event(transition)
    return None


def problem_event(
    transition: HealthTransition, *, recovery_note: str | None
) -> NotificationEvent:
    """The ``ill-health`` event telling that a deployment is down, degraded or invalid."""
    health = transition.current
    name = transition.deployment
    verdict = transition.verdict
    problems = [s for s in health.services if s.problem]
    details: dict[str, DetailValue] = {"reason": health.reason, "verdict": verdict.value}
    for service in problems:
        details[f"service {service.name}"] = service.describe()
    if len(problems) == 1:
        only = problems[0]
        if only.exit_code is not None:
            details["exit_code"] = only.exit_code
        if only.oom_killed:
            details["oom_killed"] = "yes"
        if only.oom_kills:
            details["oom_kills"] = only.oom_kills
        if only.restart_count:
            details["restart_count"] = only.restart_count
    details["since"] = _when(transition.at).isoformat(timespec="seconds")
    if healthcheck_only(health):
        details["failing"] = HEALTHCHECK_ONLY
    if transition.flap:
        details["flapping"] = transition.flap
    if recovery_note:
        details["next_action"] = recovery_note
    return NotificationEvent.model_validate(dict(
        kind=NotificationKind.ILL_HEALTH,
        severity=verdict.severity,
        deployment=name,
        service=problems[0].name if len(problems) == 1 else None,
        title=f"{name} is {verdict.value}: {health.reason}"[:300],
        summary=f"Deployment {name} is {verdict.value}. {health.reason}.",
        details=details,
        occurred_at=_when(transition.at),
        fingerprint=_fingerprint(name),
    ))


def resolved_event(transition: HealthTransition) -> NotificationEvent:
    """The ``recovered`` event ending a deployment's ill episode."""
    health = transition.current
    name = transition.deployment
    verdict = transition.verdict
    words = {Verdict.HEALTHY: "is healthy again", Verdict.PAUSED: "is paused on purpose"}.get(
        verdict, "is stopped as desired")
    details: dict[str, DetailValue] = {"reason": health.reason, "verdict": verdict.value}
    flap = ""
    if healthcheck_only(health):
        details["failing"] = HEALTHCHECK_ONLY
    if transition.flap:
        details["flapping"] = transition.flap
        flap = f" after {transition.flap}"
    return NotificationEvent(
        kind=NotificationKind.RECOVERED,
        severity=Severity.INFO,
        deployment=name,
        title=f"{name} {words}{flap}",
        summary=f"Deployment {name} {words}{flap}: {health.reason}.",
        details=details,
        occurred_at=_when(transition.at),
        fingerprint=_fingerprint(name),
    )


# The recovery events people hear of, and the notification each becomes.
RECOVERY_NOTICES: dict[EventKind, NotificationKind] = {
    EventKind.RECOVERY_STARTED: NotificationKind.RECOVERY_STARTED,
    EventKind.RECOVERY_SUCCEEDED: NotificationKind.RECOVERY_SUCCEEDED,
    EventKind.RECOVERY_GAVE_UP: NotificationKind.RECOVERY_GAVE_UP,
    EventKind.RESTART_SUMMARY: NotificationKind.RESTART_SUMMARY,
}


def from_recovery(event: RecoveryEvent) -> NotificationEvent | None:
    """A notification for a recovery transition or a restart summary, if it warrants one."""
    kind = RECOVERY_NOTICES.get(event.kind)
    if kind is None:
        return None
    details: dict[str, DetailValue] = {}
    if kind == NotificationKind.RESTART_SUMMARY:
        restart = str(event.details.get("restart", "host"))
        title = f"recovered after {restart} restart"
        rearmed = set(event.details.get("rearmed_after_give_up") or [])
        for key, label in (("came_back_by_itself", "came back by itself"),
                           ("brought_back", "brought back by stackmedic"),
                           ("still_down", "still down"),
                           ("jobs_completed", "jobs completed"),
                           ("left_stopped", "left stopped on purpose"),
                           ("not_found", "no longer found"),
                           ("networks_created", "networks recreated")):
            items = event.details.get(key) or []
            if key == "not_found" and not items:
                continue
            details[label] = "\n".join(_item(i, rearmed) for i in items) if items else "none"
        if event.details.get("still_down"):
            title += f" ({len(event.details['still_down'])} still down)"
        return NotificationEvent.model_validate(dict(
            kind=NotificationKind.RESTART_SUMMARY, severity=event.severity, title=title,
            summary=event.message, details=details, occurred_at=_when(event.at),
            fingerprint=f"restart-summary:{int(event.at)}",
        ))
    for key in ("attempt", "source", "trigger", "diagnosis", "clear_with"):
        value = event.details.get(key)
        if isinstance(value, (str, int, float)):
            details[key] = value
    actions = event.details.get("actions")
    if actions:
        done = kind == NotificationKind.RECOVERY_SUCCEEDED
        details["action_taken" if done else "next_action"] = "\n".join(
            a if isinstance(a, str) else f"{a.get('action')} {a.get('service')}"
            for a in actions
        )
    titles = {
        NotificationKind.RECOVERY_STARTED: f"{event.deployment} recovery started",
        NotificationKind.RECOVERY_SUCCEEDED: f"{event.deployment} recovered by stackmedic",
        NotificationKind.RECOVERY_GAVE_UP: f"{event.deployment} recovery gave up, needs a person",
    }
    return NotificationEvent.model_validate(dict(
        kind=kind, severity=event.severity, deployment=event.deployment,
        title=titles[kind], summary=event.message, details=details,
        occurred_at=_when(event.at),
    ))


def _item(item: object, rearmed: Collection[str] = ()) -> str:
    """One deployment of a summary's group, worded as the summary's own line words it."""
    name = str(item.get("deployment", "?")) if isinstance(item, dict) else str(item)
    parts = []
    if isinstance(item, dict):
        extra = item.get("how") or item.get("why") or item.get("services")
        if extra:
            parts.append(str(extra))
    if name in rearmed:
        parts.append("it had given up before the restart")
    if isinstance(item, dict) and item.get("next"):
        parts.append(str(item["next"]))
    return f"{name} ({'; '.join(parts)})" if parts else name
