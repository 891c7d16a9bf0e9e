"""The durable outbox: notifications, their events and one delivery per channel, in SQLite."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from stackmedic.notify.models import MessageEvent, NotificationEvent
from stackmedic.notify.types import RECOVERY_KINDS, SEVERITY_RANK, NotificationKind
from stackmedic.store.db import Database
from stackmedic.types import Severity

OPEN_STATUSES = ("pending", "sending", "retrying")
PRUNED_FAILURES_FACT = "notify.pruned-failures."
"""Facts key prefix (plus the channel) of failed attempts of pruned notifications."""


@dataclass(frozen=True)
class Delivery:
    """One notification's delivery to one channel, as claimed for an attempt."""

    id: int
    notification_id: int
    channel: str
    attempts: int
    first_due_at: float


@dataclass(frozen=True)
class StoredNotification:
    """A notification with its events, as read back from the outbox."""

    id: int
    idempotency_key: str
    deployment: str | None
    severity: Severity
    created_at: float
    window_ends_at: float
    events: tuple[MessageEvent, ...]


def group_key(deployment: str | None, channels: list[str]) -> str:
    """Events with the same key within a window share one notification."""
    return f"{deployment or ''}|{','.join(sorted(channels))}"


class Outbox:
    """Writes notifications before they are sent and tracks each channel's delivery.

    ``members`` maps a channel to its delivery names when it has several (the members of an
    Alertmanager cluster): a notification gets one delivery per member, each sent, retried
    and given up on its own.
    """

    def __init__(self, db: Database, members: Mapping[str, Sequence[str]] | None = None) -> None:
        self._db = db
        self._members = dict(members or {})

    def deliveries_for(self, channels: Sequence[str]) -> list[str]:
        """The delivery names of ``channels``: each channel, or each of its members."""
        return [name for channel in channels for name in self._members.get(channel, [channel])]

    def add(
        self,
        conn: sqlite3.Connection,
        item: MessageEvent,
        channels: list[str],
        now: float,
        window: float,
        *,
        single: bool = False,
        into: int | None = None,
        hold: float = 0.0,
    ) -> int:
        """Put an event into the open notification of its group, or open a new one.

        ``single`` opens a notification of its own that nothing else joins; ``into`` adds
        the event to that notification. Recovery news that would open a notification alone
        keeps it open up to ``hold`` (instead of ``window``) for the next notice of its
        group; the first event that is not such news ends the wait a ``window`` later.
        """
        event = item.event
        key = group_key(event.deployment, channels)
        if single:
            key = f"{key}|{uuid.uuid4().hex}"
        if into is not None:
            row = conn.execute(
                "SELECT id, severity FROM notifications WHERE id = ?", (into,)
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT id, severity FROM notifications WHERE group_key = ?"
                " AND window_ends_at > ? ORDER BY id DESC LIMIT 1",
                (key, now),
            ).fetchone()
        waits = (window > 0 and hold > window and not single and into is None
                 and self._news_alone(conn, key, event, now - hold))
        if row is not None:
            notification_id = int(row["id"])
            if SEVERITY_RANK[event.severity] > SEVERITY_RANK[row["severity"]]:
                conn.execute(
                    "UPDATE notifications SET severity = ? WHERE id = ?",
                    (event.severity, notification_id),
                )
            if into is None and not waits:
                self._end_wait(conn, notification_id, now + window)
        else:
            due = now + (hold if waits else window)
            cursor = conn.execute(
                "INSERT INTO notifications (idempotency_key, group_key, deployment, severity,"
                " created_at, window_ends_at) VALUES (?, ?, ?, ?, ?, ?)",
                (uuid.uuid4().hex, key, event.deployment, event.severity, now, due),
            )
            notification_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO notification_deliveries (notification_id, channel, status,"
                " first_due_at, next_attempt_at) VALUES (?, ?, 'pending', ?, ?)",
                [(notification_id, name, due, due) for name in self.deliveries_for(channels)],
            )
        conn.execute(
            "INSERT INTO notification_events (notification_id, fingerprint, kind, occurred_at,"
            " event, alert_severity, alert_started_at, replaces_severity, note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                notification_id,
                event.fingerprint,
                event.kind,
                event.occurred_at.timestamp(),
                event.model_dump_json(),
                item.alert_severity,
                item.alert_started_at.timestamp(),
                item.replaces_severity,
                item.note,
            ),
        )
        return notification_id

    @staticmethod
    def _news_alone(conn: sqlite3.Connection, key: str, event: NotificationEvent,
                    since: float) -> bool:
        """Whether ``event`` is news that may wait for the next notice of its group: a
        recovery started, or a resolution while the group's last recovery news (since
        ``since``) is a start, its result still to come."""
        if event.kind == NotificationKind.RECOVERY_STARTED:
            return True
        if event.kind != NotificationKind.RECOVERED:
            return False
        kinds = sorted(RECOVERY_KINDS)
        last = conn.execute(
            "SELECT e.kind FROM notification_events e JOIN notifications n"
            " ON n.id = e.notification_id WHERE n.group_key = ? AND n.created_at >= ?"
            f" AND e.kind IN ({', '.join('?' * len(kinds))}) ORDER BY e.id DESC LIMIT 1",
            (key, since, *kinds),
        ).fetchone()
        return last is not None and last["kind"] == NotificationKind.RECOVERY_STARTED

    def release(self, deployment: str, due: float) -> list[str]:
        """The news of ``deployment`` kept open for a next notice goes out at ``due`` at the
        latest (its recovery ended with nothing more to tell); the deliveries made due."""
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT id FROM notifications WHERE deployment = ? AND window_ends_at > ?",
                (deployment, due),
            ).fetchall()
            for row in rows:
                self._end_wait(conn, int(row["id"]), due)
            ids = [int(row["id"]) for row in rows]
            deliveries = conn.execute(
                "SELECT DISTINCT channel FROM notification_deliveries WHERE notification_id IN"
                f" ({', '.join('?' * len(ids))})", ids,
            ).fetchall() if ids else []
        return sorted(str(row["channel"]) for row in deliveries)

    @staticmethod
    def _end_wait(conn: sqlite3.Connection, notification_id: int, due: float) -> None:
        """A notification kept open for news goes out at ``due`` at the latest."""
        changed = conn.execute(
            "UPDATE notifications SET window_ends_at = ? WHERE id = ? AND window_ends_at > ?",
            (due, notification_id, due),
        ).rowcount
        if changed:
            conn.execute(
                "UPDATE notification_deliveries SET first_due_at = ?, next_attempt_at = ?"
                " WHERE notification_id = ? AND status = 'pending' AND next_attempt_at > ?",
                (due, due, notification_id, due),
            )

    def reset_interrupted(self, now: float) -> int:
        """Make deliveries left ``sending`` by a killed process due again; return how many."""
        return self._db.execute_rowcount(
            "UPDATE notification_deliveries SET status = 'retrying', next_attempt_at = ?"
            " WHERE status = 'sending'",
            (now,),
        )

    def open_channels(self) -> list[str]:
        """Return the channels that still have undelivered notifications."""
        rows = self._db.fetchall(
            "SELECT DISTINCT channel FROM notification_deliveries"
            " WHERE status IN ('pending', 'sending', 'retrying')"
        )
        return [row["channel"] for row in rows]

    def open_deliveries(self, channel: str) -> list[Delivery]:
        """Return the undelivered deliveries of one channel."""
        rows = self._db.fetchall(
            "SELECT id, notification_id, channel, attempts, first_due_at"
            " FROM notification_deliveries WHERE channel = ?"
            " AND status IN ('pending', 'sending', 'retrying') ORDER BY id",
            (channel,),
        )
        return [Delivery(**dict(row)) for row in rows]

    def claim_next(self, channel: str, now: float) -> Delivery | None:
        """Mark the channel's earliest due delivery ``sending`` and return it."""
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT id, notification_id, channel, attempts, first_due_at"
                " FROM notification_deliveries WHERE channel = ?"
                " AND status IN ('pending', 'retrying') AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, id LIMIT 1",
                (channel, now),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE notification_deliveries SET status = 'sending',"
                " attempts = attempts + 1, last_attempt_at = ? WHERE id = ?",
                (now, row["id"]),
            )
        return Delivery(**{**dict(row), "attempts": row["attempts"] + 1})

    def next_due(self, channel: str) -> float | None:
        """Return when the channel's next delivery is due, or None."""
        row = self._db.fetchone(
            "SELECT MIN(next_attempt_at) AS due FROM notification_deliveries"
            " WHERE channel = ? AND status IN ('pending', 'retrying')",
            (channel,),
        )
        return None if row is None or row["due"] is None else float(row["due"])

    def mark_sent(self, delivery_id: int, now: float) -> None:
        """Record a successful delivery."""
        self._db.execute(
            "UPDATE notification_deliveries SET status = 'sent', sent_at = ?, last_error = NULL"
            " WHERE id = ?",
            (now, delivery_id),
        )

    def mark_retry(self, delivery: Delivery, next_at: float, error: str) -> None:
        """Schedule another attempt and hold the channel's other deliveries until then."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE notification_deliveries SET status = 'retrying', next_attempt_at = ?,"
                " last_error = ? WHERE id = ?",
                (next_at, error, delivery.id),
            )
            conn.execute(
                "UPDATE notification_deliveries SET next_attempt_at = MAX(next_attempt_at, ?)"
                " WHERE channel = ? AND status IN ('pending', 'retrying') AND id != ?",
                (next_at, delivery.channel, delivery.id),
            )

    def shift_due(self, channel: str, seconds: float) -> int:
        """Move the channel's waiting deliveries by ``seconds`` (the wall clock stepped by
        that much); return how many moved."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE notification_deliveries SET next_attempt_at = next_attempt_at + ?,"
                " first_due_at = first_due_at + ?"
                " WHERE channel = ? AND status IN ('pending', 'retrying')",
                (seconds, seconds, channel),
            )
        return cursor.rowcount

    def mark_dead(self, delivery_id: int, error: str) -> None:
        """Give up on a delivery."""
        self._db.execute(
            "UPDATE notification_deliveries SET status = 'dead', last_error = ? WHERE id = ?",
            (error, delivery_id),
        )

    def load(self, notification_id: int) -> StoredNotification | None:
        """Return a notification with its events in the order they occurred."""
        row = self._db.fetchone("SELECT * FROM notifications WHERE id = ?", (notification_id,))
        if row is None:
            return None
        events = self._db.fetchall(
            "SELECT * FROM notification_events WHERE notification_id = ? ORDER BY occurred_at, id",
            (notification_id,),
        )
        return StoredNotification(
            id=row["id"],
            idempotency_key=row["idempotency_key"],
            deployment=row["deployment"],
            severity=Severity(row["severity"]),
            created_at=row["created_at"],
            window_ends_at=row["window_ends_at"],
            events=tuple(_message_event(e) for e in events),
        )

    def prune(self, before: float) -> int:
        """Delete finished notifications created before ``before``; return how many.

        Their failed attempts are added to a per-channel total first, so the failure
        counter exposed to Prometheus never goes down.
        """
        finished = (
            "created_at < ? AND NOT EXISTS ("
            " SELECT 1 FROM notification_deliveries d WHERE d.notification_id = notifications.id"
            " AND d.status IN ('pending', 'sending', 'retrying'))"
        )
        with self._db.transaction() as conn:
            failed = conn.execute(
                "SELECT channel, SUM(attempts - (status = 'sent')) AS n"
                " FROM notification_deliveries WHERE notification_id IN"
                f" (SELECT id FROM notifications WHERE {finished}) GROUP BY channel",
                (before,),
            ).fetchall()
            for row in failed:
                if row["n"]:
                    conn.execute(
                        "INSERT INTO agent_facts (key, value, updated_at) VALUES (?, ?, ?)"
                        " ON CONFLICT (key) DO UPDATE SET"
                        " value = CAST(value AS INTEGER) + excluded.value,"
                        " updated_at = excluded.updated_at",
                        (PRUNED_FAILURES_FACT + row["channel"], int(row["n"]), time.time()),
                    )
            return conn.execute(f"DELETE FROM notifications WHERE {finished}", (before,)).rowcount


def _message_event(row: sqlite3.Row) -> MessageEvent:
    """Rebuild an event of a notification from its row."""
    return MessageEvent(
        event=NotificationEvent.model_validate_json(row["event"]),
        alert_severity=row["alert_severity"],
        alert_started_at=datetime.fromtimestamp(row["alert_started_at"], UTC),
        replaces_severity=row["replaces_severity"],
        note=row["note"],
    )
