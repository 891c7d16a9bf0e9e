"""The deployment page: services and containers, charts, history, recoveries and alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackmedic.store.events import EventQuery
from stackmedic.types import RunOutcome
from stackmedic.views import deployment_detail
from stackmedic.web.formatting import ago, verdict_tone, when
from stackmedic.web.views.charts import DEFAULT_RANGE, RANGES, resource_charts
from stackmedic.web.views.probes import probe_section

if TYPE_CHECKING:
    from stackmedic.deployments.model import Deployment
    from stackmedic.readmodel import AgentView

SERVICE_TONES = {
    "running": "ok",
    "starting": "info",
    "completed": "muted",
    "stopped": "muted",
    "created": "warn",
    "paused": "muted",
    "restarting": "warn",
}
RUN_TONES: dict[str, str] = {
    RunOutcome.RECOVERED: "ok", RunOutcome.NOTHING_TO_DO: "muted", RunOutcome.SKIPPED: "muted",
    RunOutcome.FAILED: "warn", RunOutcome.GAVE_UP: "bad",
}
HISTORY_ROWS = 20
RUN_ROWS = 10
EVENT_ROWS = 10


def service_tone(status: str | None) -> str:
    """The colour class of a service status."""
    return SERVICE_TONES.get(status or "", "bad")


def offered_actions(desired: str, observed: str) -> list[str]:
    """The buttons that make sense in this state (diagnose always does).

    Start when something is not running or it is not meant to run; restart when something
    runs; stop when something runs or it is meant to run (stopping then means "leave it
    stopped"). An invalid compose file can only be diagnosed; with Docker unreachable
    (``unknown``) nothing is known, so everything is offered.
    """
    if observed == "invalid":
        return ["diagnose"]
    if observed == "unknown":
        return ["diagnose", "restart", "start", "stop"]
    offered = {"diagnose"}
    if observed != "running" or desired != "running":
        offered.add("start")
    if observed in ("running", "partial"):
        offered |= {"restart", "stop"}
    if desired == "running":
        offered.add("stop")
    return sorted(offered)


def summary(agent: AgentView, deployment: Deployment) -> dict[str, Any]:
    """The page's head: verdict, reason, states and every service's status (also live)."""
    detail = deployment_detail(agent, deployment)
    health = agent.health.detail(deployment.name)
    verdict = str(health.get("verdict") or "unknown")
    desired = detail.get("desired") or {}
    since = health.get("since")
    return {
        "name": deployment.name,
        "verdict": verdict,
        "tone": verdict_tone(verdict),
        "reason": str(health.get("reason") or detail.get("error") or ""),
        "since": since,
        "since_text": ago(since),
        "since_title": when(since),
        "desired": desired.get("state") or "not recorded",
        "desired_source": desired.get("source") or "",
        "desired_at": desired.get("changed_at"),
        "observed": detail["state"],
        "offered": offered_actions(desired.get("state") or "", detail["state"]),
        "services": services(detail, health),
        "error": detail.get("error"),
    }


def deployment_page(agent: AgentView, deployment: Deployment, range_key: str) -> dict[str, Any]:
    """Everything the deployment page shows."""
    name = deployment.name
    range_key = range_key if range_key in RANGES else DEFAULT_RANGE
    silences = [s for s in agent.notifier.list_silences() if s.get("deployment") in (name, "*")]
    return {
        **summary(agent, deployment),
        "range": range_key,
        "ranges": list(RANGES),
        "charts": resource_charts(agent, name, range_key),
        "probes": probe_section(agent, name),
        "history": agent.health.history(name, limit=HISTORY_ROWS),
        "runs": [run_view(r) for r in agent.recovery.runs.list(name, RUN_ROWS)],
        "recovery": agent.recovery.state(name),
        "alerts": alerts(agent, name),
        "log_fingerprints": log_fingerprints(agent, name),
        "silences": silences,
        "events": agent.events.query(EventQuery(deployment=name, limit=EVENT_ROWS)),
    }


def services(detail: dict[str, Any], health: dict[str, Any]) -> list[dict[str, Any]]:
    """Each service with its status and its containers' state, probe output and exits."""
    statuses: dict[str, dict[str, Any]] = health.get("services") or {}
    containers: list[dict[str, Any]] = health.get("containers") or []
    found = []
    for service in detail["services"]:
        status = statuses.get(service["name"]) or {}
        found.append({
            "name": service["name"],
            "image": service.get("image") or "",
            "declared": service.get("declared", True),
            "has_healthcheck": service.get("has_healthcheck", False),
            "override": service.get("desired_override"),
            "status": status.get("status") or "unknown",
            "tone": service_tone(status.get("status")),
            "crashes": len(status.get("recent_crashes") or []),
            "containers": sorted(
                (c for c in containers if c["service"] == service["name"]),
                key=lambda c: (c.get("number") or 0, c["container"]),
            ),
        })
    return found


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    """A recovery run with its diagnosis summary and actions in words."""
    diagnosis = run.get("diagnosis") or {}
    return {
        **run,
        "summary": diagnosis.get("summary") or "",
        "needs_human": diagnosis.get("needs_human"),
        "source": run.get("source") or diagnosis.get("source") or "rules",
        "tone": RUN_TONES.get(run.get("outcome") or "", "info"),
        "action_texts": [action_text(a) for a in run.get("actions") or []],
    }


def action_text(action: dict[str, Any]) -> str:
    """``restart web: ok`` or ``start db: failed (reason)``."""
    what = f"{str(action.get('action', '?')).replace('_', ' ')} {action.get('service', '?')}"
    if action.get("ok"):
        return f"{what}: ok"
    error = action.get("error")
    return f"{what}: failed" + (f" ({error})" if error else "")


def log_fingerprints(agent: AgentView, name: str) -> list[dict[str, Any]]:
    """The deployment's top log fingerprints, most lines first."""
    from stackmedic.logwatch.views import deployment_logs

    return list(deployment_logs(agent.logwatch.watch, name)["top"])


def alerts(agent: AgentView, name: str) -> list[dict[str, Any]]:
    """Pending and firing resource alerts and firing problems of one deployment."""
    found = [
        {"tone": "bad" if a["state"] == "firing" else "warn", "state": a["state"],
         "title": a.get("reason") or f"{a['rule']} on {a.get('container_name') or a['subject']}",
         "since": a.get("fired_at") or a.get("since")}
        for a in agent.resources.alerts()
        if a.get("deployment") == name and a["state"] in ("pending", "firing")
    ]
    for problem in agent.notifier.outbox_state().get("firing_problems") or []:
        if problem.get("deployment") == name:
            found.append({"tone": "bad", "state": "firing", "title": problem.get("title") or "",
                          "since": problem.get("since")})
    return found
