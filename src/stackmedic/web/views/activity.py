"""The events page (the agent's log with filters and paging) and the notifications page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from stackmedic.store.events import EventQuery
from stackmedic.types import EventKind, Severity

if TYPE_CHECKING:
    from stackmedic.readmodel import AgentView

EVENT_PAGE = 50
NOTIFICATION_PAGE = 25
SEVERITIES = tuple(Severity)
SEVERITY_TONES: dict[str, str] = {
    Severity.INFO: "info", Severity.WARNING: "warn", Severity.CRITICAL: "bad",
}
DELIVERY_TONES = {"sent": "ok", "pending": "info", "sending": "info", "retrying": "warn",
                  "dead": "bad"}


@dataclass(frozen=True)
class EventFilters:
    """What the events page was asked to show."""

    deployment: str | None = None
    kind: EventKind | None = None
    severity: Severity | None = None
    before: int | None = None

    def query(self, **changes: object) -> str:
        """The query string of these filters with ``changes`` applied (None drops a key)."""
        values = {"deployment": self.deployment, "kind": self.kind,
                  "severity": self.severity, "before": self.before, **changes}
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def events_page(agent: AgentView, filters: EventFilters) -> dict[str, Any]:
    """One page of the event log, newest first, with the choices of each filter."""
    items = agent.events.query(EventQuery(
        filters.deployment, filters.kind, filters.severity, limit=EVENT_PAGE,
        before_id=filters.before,
    ))
    older = items[-1]["id"] if len(items) == EVENT_PAGE else None
    kinds = agent.events.kinds()
    logged = agent.events.deployments()
    known = set(agent.catalog.deployments)
    names = sorted(known | logged | ({filters.deployment} if filters.deployment else set()))
    return {
        "filters": filters,
        "items": [{**e, "tone": SEVERITY_TONES.get(e["severity"], "info")} for e in items],
        "older": filters.query(before=older) if older else None,
        "newest": filters.query(before=None) if filters.before else None,
        "kinds": kinds,
        "deployments": names,
        "known": known,
        "severities": SEVERITIES,
    }


def notifications_page(agent: AgentView, offset: int) -> dict[str, Any]:
    """Channels with secrets masked, recent notifications with delivery status, silences."""
    notifier = agent.notifier
    items = notifier.list_notifications(NOTIFICATION_PAGE, offset)
    for item in items:
        for delivery in item["deliveries"]:
            delivery["tone"] = DELIVERY_TONES.get(delivery["status"], "info")
    outbox = notifier.outbox_state()
    return {
        "channels": [
            {**c, "settings": [(k, _show(v)) for k, v in c["settings"].items()
                               if k != "type" and v not in (None, "", [], {})]}
            for c in notifier.describe_channels()
        ],
        "items": items,
        "outbox": {k: outbox.get(k, 0) for k in ("pending", "retrying", "sent", "dead")},
        "silences": notifier.list_silences(),
        "known": set(agent.catalog.deployments),
        "offset": offset,
        "older": offset + NOTIFICATION_PAGE if len(items) == NOTIFICATION_PAGE else None,
        "newer": max(0, offset - NOTIFICATION_PAGE) if offset else None,
    }


def _show(value: Any) -> str:
    """A setting as text: lists joined, mappings as ``key: value`` pairs."""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_show(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value)
    return str(value)
