-- Notification outbox: a notification is written here before any channel is tried.

-- One notification: the events of one deployment (for one set of channels) gathered
-- during its group window. Sending starts when the window ends.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    group_key TEXT NOT NULL,
    deployment TEXT,
    severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    created_at REAL NOT NULL,
    window_ends_at REAL NOT NULL
);
CREATE INDEX notifications_open ON notifications (group_key, window_ends_at);
CREATE INDEX notifications_created ON notifications (created_at);

-- The events inside a notification, with the identity of the alert each belongs to.
CREATE TABLE notification_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_at REAL NOT NULL,
    event TEXT NOT NULL,
    alert_severity TEXT NOT NULL,
    alert_started_at REAL NOT NULL,
    replaces_severity TEXT,
    note TEXT
);
CREATE INDEX notification_events_notification ON notification_events (notification_id);

-- One row per notification and channel: the delivery's progress through the outbox.
CREATE TABLE notification_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'sending', 'retrying', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    first_due_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_attempt_at REAL,
    sent_at REAL,
    last_error TEXT,
    UNIQUE (notification_id, channel)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (channel, status, next_attempt_at);
CREATE INDEX notification_deliveries_status ON notification_deliveries (status);

-- What is known about each problem fingerprint and what people were last told.
CREATE TABLE notification_problems (
    fingerprint TEXT PRIMARY KEY,
    deployment TEXT,
    service TEXT,
    status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    severity TEXT NOT NULL,
    started_at REAL NOT NULL,
    changed_at REAL NOT NULL,
    last_event TEXT NOT NULL,
    notified_status TEXT,
    notified_severity TEXT,
    notified_at REAL,
    channels TEXT NOT NULL DEFAULT '[]',
    changes TEXT NOT NULL DEFAULT '[]',
    flapping INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notification_problems_deployment ON notification_problems (deployment);

-- Silences (maintenance windows): no notification for a deployment ('*': all) until ends_at.
CREATE TABLE notification_silences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX notification_silences_ends ON notification_silences (ends_at);
