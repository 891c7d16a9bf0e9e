"""Plain-data views of outbox rows for API answers."""

from __future__ import annotations

import sqlite3
from typing import Any

from stackmedic.notify.outbox import OPEN_STATUSES, Outbox, StoredNotification
from stackmedic.notify.render import RenderContext, summary_status, title_for
from stackmedic.notify.types import iso_time
from stackmedic.store.db import Database


def overall_state(window_ends_at: float, deliveries: list[dict[str, Any]], now: float) -> str:
    """Summarize deliveries: grouping, pending, sent, partly-sent or failed."""
    if window_ends_at > now:
        return "grouping"
    statuses = {d["status"] for d in deliveries}
    if statuses & {"pending", "sending", "retrying"}:
        return "pending"
    if statuses == {"sent"}:
        return "sent"
    if "sent" in statuses:
        return "partly-sent"
    return "failed" if statuses else "sent"


def notification_view(
    stored: StoredNotification,
    deliveries: list[dict[str, Any]],
    context: RenderContext,
    now: float,
) -> dict[str, Any]:
    """Return one notification with its events and per-channel delivery status."""
    resolved = bool(stored.events) and summary_status(stored.events)[0]
    return {
        "id": stored.id,
        "idempotency_key": stored.idempotency_key,
        "deployment": stored.deployment,
        "severity": stored.severity,
        "status": "resolved" if resolved else "firing",
        "title": title_for(stored.deployment, stored.events) if stored.events else "",
        "created_at": iso_time(stored.created_at),
        "window_ends_at": iso_time(stored.window_ends_at),
        "state": overall_state(stored.window_ends_at, deliveries, now),
        "events": [
            {
                "kind": item.event.kind,
                "severity": item.event.severity,
                "service": item.event.service,
                "title": item.event.title,
                "fingerprint": item.event.fingerprint,
                "occurred_at": iso_time(item.event.occurred_at.timestamp()),
                "note": item.note,
            }
            for item in stored.events
        ],
        "deliveries": deliveries,
    }


def recent_notifications(
    db: Database, outbox: Outbox, limit: int, offset: int
) -> list[tuple[StoredNotification, list[dict[str, Any]]]]:
    """Return the newest notifications with the status of each channel's delivery."""
    rows = db.fetchall(
        "SELECT id FROM notifications ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)
    )
    result = []
    for row in rows:
        stored = outbox.load(row["id"])
        if stored is None:
            continue
        deliveries = db.fetchall(
            "SELECT channel, status, attempts, next_attempt_at, last_attempt_at, sent_at,"
            " last_error FROM notification_deliveries WHERE notification_id = ? ORDER BY id",
            (row["id"],),
        )
        result.append((stored, [_delivery_dict(d) for d in deliveries]))
    return result


def outbox_counts(db: Database) -> dict[str, Any]:
    """Return counts per status overall and per channel, oldest open and next due."""
    totals = {status: 0 for status in ("pending", "sending", "retrying", "sent", "dead")}
    channels: dict[str, dict[str, Any]] = {}
    for row in db.fetchall(
        "SELECT channel, status, COUNT(*) AS n, MIN(first_due_at) AS oldest,"
        " MIN(next_attempt_at) AS next_due, MAX(sent_at) AS last_sent"
        " FROM notification_deliveries GROUP BY channel, status"
    ):
        totals[row["status"]] += row["n"]
        entry = channels.setdefault(
            row["channel"],
            {
                **{s: 0 for s in totals},
                "oldest_open_due_at": None,
                "next_attempt_at": None,
                "last_sent_at": None,
                "last_error": None,
            },
        )
        entry[row["status"]] = row["n"]
        if row["status"] in OPEN_STATUSES:
            entry["oldest_open_due_at"] = _min_iso(entry["oldest_open_due_at"], row["oldest"])
            entry["next_attempt_at"] = _min_iso(entry["next_attempt_at"], row["next_due"])
        if row["status"] == "sent":
            entry["last_sent_at"] = iso_time(row["last_sent"])
    for row in db.fetchall(
        "SELECT channel, last_error FROM notification_deliveries WHERE id IN ("
        " SELECT MAX(id) FROM notification_deliveries WHERE last_error IS NOT NULL"
        " GROUP BY channel)"
    ):
        channels[row["channel"]]["last_error"] = row["last_error"]
    return {**totals, "channels": channels}


def _delivery_dict(row: sqlite3.Row) -> dict[str, Any]:
    """Return a delivery row as plain data with ISO times."""
    return {
        "channel": row["channel"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": iso_time(row["next_attempt_at"])
        if row["status"] in OPEN_STATUSES
        else None,
        "last_attempt_at": iso_time(row["last_attempt_at"]),
        "sent_at": iso_time(row["sent_at"]),
        "last_error": row["last_error"],
    }


def _min_iso(current: str | None, moment: float | None) -> str | None:
    """Keep the earlier of an ISO time and an epoch time."""
    candidate = iso_time(moment)
    if current is None or (candidate is not None and candidate < current):
        return candidate
    return current
