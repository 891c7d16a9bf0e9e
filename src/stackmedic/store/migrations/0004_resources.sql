-- Resource history: one series per container (or the host), raw samples and 1-minute averages.
CREATE TABLE resource_series (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('host', 'container')),
    container_id TEXT NOT NULL DEFAULT '',
    deployment TEXT NOT NULL DEFAULT '',
    service TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    UNIQUE (kind, container_id)
);
CREATE INDEX resource_series_deployment ON resource_series (deployment, last_seen);

-- Samples at the sampling interval; cpu_percent is of the CPU limit (host: of all cores),
-- cpu_core_percent of one core; memory as `docker stats` counts it.
CREATE TABLE resource_samples_raw (
    series_id INTEGER NOT NULL REFERENCES resource_series (id) ON DELETE CASCADE,
    ts REAL NOT NULL,
    cpu_percent REAL,
    cpu_core_percent REAL,
    memory_bytes INTEGER NOT NULL,
    memory_limit_bytes INTEGER NOT NULL,
    memory_percent REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

-- One row per series and minute (ts = start of the minute), averages and maxima.
CREATE TABLE resource_samples_minute (
    series_id INTEGER NOT NULL REFERENCES resource_series (id) ON DELETE CASCADE,
    ts REAL NOT NULL,
    samples INTEGER NOT NULL,
    cpu_samples INTEGER NOT NULL,
    cpu_percent_avg REAL,
    cpu_percent_max REAL,
    cpu_core_percent_avg REAL,
    memory_bytes_avg REAL NOT NULL,
    memory_bytes_max INTEGER NOT NULL,
    memory_limit_bytes INTEGER NOT NULL,
    memory_percent_avg REAL NOT NULL,
    memory_percent_max REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

-- Every spike-rule transition (firing, resolved), in order.
CREATE TABLE resource_alert_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    severity TEXT NOT NULL,
    deployment TEXT,
    service TEXT,
    data TEXT NOT NULL
);
CREATE INDEX resource_alert_events_ts ON resource_alert_events (ts);
CREATE INDEX resource_alert_events_deployment ON resource_alert_events (deployment, ts);

-- Alerts firing now, kept so a restarted agent neither repeats nor forgets them.
CREATE TABLE resource_alerts_firing (
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (rule, subject)
);
