-- Log-pattern fingerprints per deployment (first line, count, first and last time, the
-- rule that matched, the triage verdict) and how far each container's log was read.
CREATE TABLE log_fingerprints (
    deployment TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    rule TEXT NOT NULL,
    service TEXT NOT NULL,
    severity TEXT NOT NULL,
    first_line TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    triage TEXT,
    PRIMARY KEY (deployment, fingerprint)
);
CREATE INDEX log_fingerprints_seen ON log_fingerprints (deployment, last_seen);
CREATE TABLE log_cursors (
    container_id TEXT PRIMARY KEY,
    deployment TEXT NOT NULL,
    read_to TEXT NOT NULL,
    same_time INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
