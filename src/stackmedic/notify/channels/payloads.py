"""JSON payloads: stackmedic's webhook schema v1 and Alertmanager's alert shapes.

Webhook schema ``stackmedic.notification/v1`` (one POST per notification)::

    {
      "schema": "stackmedic.notification/v1",
      "id": "<idempotency key, also sent as the Idempotency-Key header>",
      "notification_id": 12,
      "host": "web01",
      "deployment": "shop" | null,
      "status": "firing" | "resolved" | "info" (news only: recovery, summary),
      "tag": "problem" | "resolved" | "recovery" | "summary" | "news" | "test",
      "severity": "info" | "warning" | "critical",
      "kind": "<kind of the leading event>",
      "title": "...", "subject": "...", "text": "<plain text body>",
      "created_at": "2024-05-01T12:00:03Z",
      "silence_command": "stackmedic silence shop --hours 2" | null,
      "url": "<public_url>" | null,
      "events": [{
        "kind", "status" ("firing" | "resolved" | "info"), "tag", "severity", "deployment",
        "service", "title", "summary", "details" {str: str|int|float|null},
        "occurred_at", "fingerprint", "resolves", "alert_severity", "alert_started_at",
        "note"
      }]
    }

Fields may be added within v1; removing or changing one bumps the version.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from stackmedic.notify.models import MessageEvent, RenderedMessage, problem_kind
from stackmedic.notify.types import NotificationKind

SCHEMA = "stackmedic.notification/v1"
ZERO_TIME = "0001-01-01T00:00:00Z"
_ANNOTATION_KEY = re.compile(r"[^A-Za-z0-9_]")


def rfc3339(moment: datetime) -> str:
    """Format a timestamp as RFC 3339 in UTC with a ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def encode(payload: Any) -> bytes:
    """Serialize a payload as compact UTF-8 JSON (the exact bytes that get signed)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def stackmedic_payload(message: RenderedMessage) -> dict[str, Any]:
    """Return the ``stackmedic.notification/v1`` document for a message."""
    return {
        "schema": SCHEMA,
        "id": message.idempotency_key,
        "notification_id": message.notification_id,
        "host": message.host,
        "deployment": message.deployment,
        "status": message.status,
        "tag": message.tag,
        "severity": message.severity,
        "kind": message.kind,
        "title": message.title,
        "subject": message.subject,
        "text": message.text,
        "created_at": rfc3339(message.created_at),
        "silence_command": message.silence_command,
        "url": message.public_url,
        "events": [_event(item) for item in message.events],
    }


def _event(item: MessageEvent) -> dict[str, Any]:
    """Return one event of the v1 document."""
    event = item.event
    return {
        "kind": event.kind,
        "status": item.status,
        "tag": item.tag,
        "severity": event.severity,
        "deployment": event.deployment,
        "service": event.service,
        "title": event.title,
        "summary": event.summary,
        "details": dict(event.details),
        "occurred_at": rfc3339(event.occurred_at),
        "fingerprint": event.fingerprint,
        "resolves": event.resolves,
        "alert_severity": item.alert_severity,
        "alert_started_at": rfc3339(item.alert_started_at),
        "note": item.note,
    }


def alert_labels(
    message: RenderedMessage,
    item: MessageEvent,
    severity: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Return the label set that identifies an event's alert in Alertmanager."""
    event = item.event
    labels = {
        "alertname": problem_kind(event.kind),
        "host": message.host,
        "severity": severity or item.alert_severity,
        "problem": event.fingerprint,
    }
    if event.deployment:
        labels["deployment"] = event.deployment
    if event.service:
        labels["service"] = event.service
    return {**(extra or {}), **labels}


def alert_annotations(message: RenderedMessage, item: MessageEvent) -> dict[str, str]:
    """Return annotations: summary, description, silence hint and the event's details."""
    event = item.event
    notes = {
        "summary": event.title, "description": event.summary or event.title, "tag": item.tag,
    }
    if message.silence_command:
        notes["silence"] = message.silence_command
    if item.note:
        notes["note"] = item.note
    for key, value in event.details.items():
        if value is not None:
            notes.setdefault(_ANNOTATION_KEY.sub("_", key), str(value))
    return notes


def latest_per_alert(message: RenderedMessage) -> list[MessageEvent]:
    """Return the last event of each fingerprint, in first-seen order."""
    latest: dict[str, MessageEvent] = {}
    for item in message.events:
        latest.pop(item.event.fingerprint, None)
        latest[item.event.fingerprint] = item
    return list(latest.values())


def postable_alerts(
    message: RenderedMessage, now: datetime, ttl_seconds: float, extra: dict[str, str]
) -> list[dict[str, Any]]:
    """Return the body of ``POST /api/v2/alerts``: firing and resolved problems only.

    One-off news (recovery started, restart summary) is not an alert and is left out; a
    test message becomes a short-lived ``test`` alert. A firing alert ends ``ttl_seconds``
    from now unless a reminder or the resolution refreshes it.
    """
    alerts: list[dict[str, Any]] = []
    for item in latest_per_alert(message):
        event = item.event
        status = item.status
        if status == "info" and event.kind != NotificationKind.TEST:
            continue
        if status == "resolved":
            ends = event.occurred_at
        elif event.kind == NotificationKind.TEST:
            ends = now + timedelta(minutes=5)
        else:
            ends = now + timedelta(seconds=ttl_seconds)
        base = {
            "annotations": alert_annotations(message, item),
            "startsAt": rfc3339(item.alert_started_at),
            "generatorURL": message.public_url or "",
        }
        alerts.append(
            {**base, "labels": alert_labels(message, item, extra=extra), "endsAt": rfc3339(ends)}
        )
        if item.replaces_severity and item.replaces_severity != item.alert_severity:
            old = alert_labels(message, item, severity=item.replaces_severity, extra=extra)
            alerts.append({**base, "labels": old, "endsAt": rfc3339(event.occurred_at)})
    return alerts


def alertmanager_webhook(message: RenderedMessage, receiver: str) -> dict[str, Any]:
    """Return the payload Alertmanager itself POSTs to webhook receivers (version 4).

    Only problems are ``firing``; one-off news (recovery, summary) is sent as an alert
    that already ended, with its ``tag`` annotation saying what it is.
    """
    alerts: list[dict[str, Any]] = []
    for item in latest_per_alert(message):
        labels = alert_labels(message, item)
        resolved = item.status != "firing"
        alerts.append(
            {
                "status": "resolved" if resolved else "firing",
                "labels": labels,
                "annotations": alert_annotations(message, item),
                "startsAt": rfc3339(item.alert_started_at),
                "endsAt": rfc3339(item.event.occurred_at) if resolved else ZERO_TIME,
                "generatorURL": message.public_url or "",
                "fingerprint": hashlib.sha256(
                    json.dumps(labels, sort_keys=True).encode()
                ).hexdigest()[:16],
            }
        )
    common_labels = _common([cast(dict[str, str], a["labels"]) for a in alerts])
    group_labels = {"deployment": message.deployment} if message.deployment else {}
    return {
        "version": "4",
        "groupKey": f"{{}}:{json.dumps(group_labels, sort_keys=True)}",
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "commonAnnotations": _common([cast(dict[str, str], a["annotations"]) for a in alerts]),
        "externalURL": message.public_url or "",
        "alerts": alerts,
    }


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    """Return the key/value pairs shared by every map."""
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}
