"""Turns a stored notification into the title, text and HTML every channel sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Literal

from stackmedic.notify.models import DetailValue, MessageEvent, RenderedMessage
from stackmedic.notify.outbox import StoredNotification
from stackmedic.notify.types import (
    RECOVERY_KINDS,
    SEVERITY_RANK,
    NotificationKind,
    Tag,
    max_severity,
)
from stackmedic.types import Severity

EVIDENCE_FIRST = ("reason", "exit_code", "oom_killed", "container", "restart_count")
NOT_EVIDENCE = frozenset({"since", "action_taken", "next_action"})
SECTIONS = (("firing", "Problems"), ("resolved", "Resolved"), ("info", "News"))
TITLE_LIMIT = 150


@dataclass(frozen=True)
class RenderContext:
    """Facts about the agent that every message mentions."""

    host: str
    public_url: str | None = None
    silence_hours: int = 2


def when(moment: datetime) -> str:
    """Format a time for people: UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _value(value: DetailValue) -> str:
    return "-" if value is None else str(value)


def evidence(item: MessageEvent) -> list[tuple[str, str]]:
    """Return the event's details worth showing as evidence, well-known keys first."""
    details = item.event.details
    keys = [k for k in EVIDENCE_FIRST if k in details]
    keys += [k for k in details if k not in keys and k not in NOT_EVIDENCE]
    return [(k, _value(details[k])) for k in keys]


def facts(item: MessageEvent) -> list[tuple[str, str]]:
    """Return the labelled lines about one event: since, evidence, actions, note."""
    event = item.event
    lines: list[tuple[str, str]] = []
    since = event.details.get("since")
    if item.status == "resolved":
        start = since if since is not None else when(item.alert_started_at)
        lines.append(("Was failing since", str(start)))
        lines.append(("Resolved at", when(event.occurred_at)))
    elif item.status == "firing":
        lines.append(("Since", str(since) if since is not None else when(item.alert_started_at)))
    else:
        lines.append(("At", when(event.occurred_at)))
    found = evidence(item)
    if found:
        lines.append(("Evidence", ""))
        lines += [(f"  {k}", v) for k, v in found]
    if event.details.get("action_taken") is not None:
        lines.append(("What stackmedic did", _value(event.details["action_taken"])))
    if event.details.get("next_action") is not None:
        lines.append(("What stackmedic will do", _value(event.details["next_action"])))
    if item.replaces_severity:
        lines.append(("Severity", f"{item.replaces_severity} -> {item.alert_severity}"))
    if item.note:
        lines.append(("Note", item.note))
    return lines


def latest_per_fingerprint(events: tuple[MessageEvent, ...]) -> list[MessageEvent]:
    """Return the last event per fingerprint, in first-seen order."""
    latest: dict[str, MessageEvent] = {}
    for item in events:
        latest.pop(item.event.fingerprint, None)
        latest[item.event.fingerprint] = item
    return list(latest.values())


def title_for(deployment: str | None, events: tuple[MessageEvent, ...]) -> str:
    """Say what happened in one line, naming the deployment once.

    The event titles when they fit (after the first, without the deployment's name),
    counts otherwise.
    """
    current = latest_per_fingerprint(events)
    summary = next((i for i in current if i.event.kind == NotificationKind.RESTART_SUMMARY), None)
    if summary is not None:
        return summary.event.title
    rank = {"firing": 0, "resolved": 1, "info": 2}
    ordered = sorted(current, key=lambda i: rank[i.status])
    titles = [_with_what_ended(i, events) for i in ordered]
    if deployment:
        titles = [titles[0]] + [_without_name(t, deployment) for t in titles[1:]]
    joined = "; ".join(titles)
    named = bool(deployment) and joined.startswith(str(deployment))
    prefix = f"{deployment}: " if deployment and not named else ""
    if len(joined) <= TITLE_LIMIT:
        return prefix + joined
    parts = []
    for status, label in (("firing", "problems"), ("resolved", "resolved"), ("info", "updates")):
        group = [i for i in current if i.status == status]
        if group:
            names = sorted({i.event.service or i.event.kind for i in group})
            shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
            parts.append(f"{len(group)} {label} ({shown})")
    return (f"{deployment}: " if deployment else "") + "; ".join(parts)


def _with_what_ended(item: MessageEvent, events: tuple[MessageEvent, ...]) -> str:
    """A resolution's title, saying what it ended when that is in the same message."""
    if item.status != "resolved":
        return item.event.title
    began = next((i for i in events if i.event.fingerprint == item.event.fingerprint
                  and i.status == "firing"), None)
    if began is None or not item.event.deployment:
        return item.event.title
    name = item.event.deployment
    was = began.event.title.replace(f"{name} is ", f"{name} was ", 1)
    return f"{was}; {_without_name(item.event.title, name)}"


def _without_name(title: str, name: str) -> str:
    for lead in (f"{name}: ", f"{name} "):
        if title.startswith(lead):
            return title[len(lead):]
    return title


def tag_for(events: tuple[MessageEvent, ...]) -> Tag:
    """What a notification is: a summary, a problem, a resolution, recovery news, a test."""
    current = latest_per_fingerprint(events)
    kinds = {i.event.kind for i in current}
    if NotificationKind.RESTART_SUMMARY in kinds:
        return "summary"
    if NotificationKind.TEST in kinds:
        return "test"
    if any(i.status == "firing" for i in current):
        return "problem"
    if any(i.status == "resolved" for i in current):
        return "resolved"
    return "recovery" if kinds & RECOVERY_KINDS else "news"


def summary_status(events: tuple[MessageEvent, ...]) -> tuple[bool, Severity]:
    """Whether everything ended resolved, and the worst severity of what did not.

    Only the last event of each fingerprint counts: a problem that fired and recovered
    within one group window reads as recovered.
    """
    current = latest_per_fingerprint(events)
    open_items = [i for i in current if not i.event.resolves]
    return not open_items, max_severity([i.event.severity for i in open_items])


def render(stored: StoredNotification, context: RenderContext) -> RenderedMessage:
    """Build the message for a stored notification."""
    events = stored.events
    resolved, severity = summary_status(events)
    tag = tag_for(events)
    summary_kind = NotificationKind.RESTART_SUMMARY
    lead = next((i for i in events if i.event.kind == summary_kind), None) or next(
        (i for i in events if i.status == "firing"), events[0]
    )
    title = title_for(stored.deployment, events)
    silence = (
        f"stackmedic silence {stored.deployment} --hours {context.silence_hours}"
        if stored.deployment
        else None
    )
    current = latest_per_fingerprint(events)
    status: Literal["firing", "resolved", "info"] = "info"
    if any(i.status == "firing" for i in current):
        status = "firing"
    elif resolved and any(i.status == "resolved" for i in current):
        status = "resolved"
    message = RenderedMessage(
        notification_id=stored.id,
        idempotency_key=stored.idempotency_key,
        host=context.host,
        deployment=stored.deployment,
        severity=severity,
        status=status,
        kind=lead.event.kind,
        title=title,
        text="",
        html="",
        created_at=datetime.fromtimestamp(stored.created_at, UTC),
        events=events,
        silence_command=silence,
        public_url=context.public_url,
        tag=tag,
    )
    label = message.label
    return message.model_copy(update={
        "text": _text(stored, context, title, label, silence),
        "html": _html(stored, context, title, label, silence),
    })


def _heading(item: MessageEvent) -> str:
    event = item.event
    named = not event.service or event.service in event.title
    who = "" if named else f"{event.service}: "
    return f"{who}{event.title}  [{event.severity}, {event.kind}]"


def _fact_lines(found: list[tuple[str, str]]) -> list[str]:
    """``  name: value`` lines; a value of several lines continues indented below."""
    lines = []
    for name, value in found:
        first, *rest = value.split("\n") if value else [""]
        lines.append(f"  {name}: {first}".rstrip())
        indent = " " * (len(name) + 4)
        lines += [f"{indent}{more}" for more in rest]
    return lines


def _text(
    stored: StoredNotification,
    context: RenderContext,
    title: str,
    status_label: str,
    silence: str | None,
) -> str:
    where = stored.deployment or "stackmedic agent"
    lines = [f"{status_label}: {where} on host {context.host}", title, ""]
    for status, label in SECTIONS:
        group = [i for i in stored.events if i.status == status]
        if not group:
            continue
        lines += [label.upper(), ""]
        for item in group:
            lines.append(f"* {_heading(item)}")
            if item.event.summary:
                lines.append(f"  {item.event.summary}")
            lines += _fact_lines(facts(item))
            lines.append("")
    if silence:
        lines.append(f"To silence this deployment: {silence}")
    if context.public_url:
        lines.append(f"Dashboard: {context.public_url}")
    lines += ["", f"-- stackmedic on {context.host}, notification {stored.id}"]
    return "\n".join(lines) + "\n"


def _html(
    stored: StoredNotification,
    context: RenderContext,
    title: str,
    status_label: str,
    silence: str | None,
) -> str:
    where = escape(stored.deployment or "stackmedic agent")
    worst = SEVERITY_RANK[summary_status(stored.events)[1]]
    colour = "#2e7d32" if status_label == "RESOLVED" else ("#1565c0", "#ef6c00", "#c62828")[worst]
    out = [
        '<!DOCTYPE html><html><body style="font-family:sans-serif">',
        f'<p style="color:{colour};font-weight:bold">{escape(status_label)}: {where}'
        f" on host {escape(context.host)}</p>",
        f"<h2>{escape(title)}</h2>",
    ]
    for status, label in SECTIONS:
        group = [i for i in stored.events if i.status == status]
        if not group:
            continue
        out.append(f"<h3>{label}</h3><ul>")
        for item in group:
            out.append(f"<li><b>{escape(_heading(item))}</b>")
            if item.event.summary:
                out.append(f"<p>{escape(item.event.summary)}</p>")
            out.append("<table>")
            out += [
                f"<tr><td><i>{escape(name)}</i></td>"
                f"<td>{escape(value).replace(chr(10), '<br>')}</td></tr>"
                for name, value in facts(item)
            ]
            out.append("</table></li>")
        out.append("</ul>")
    if silence:
        out.append(f"<p>To silence this deployment: <code>{escape(silence)}</code></p>")
    if context.public_url:
        url = escape(context.public_url, quote=True)
        out.append(f'<p><a href="{url}">Open the dashboard</a></p>')
    out.append(
        f'<p style="color:#777">stackmedic on {escape(context.host)},'
        f" notification {stored.id}</p></body></html>"
    )
    return "\n".join(out) + "\n"
