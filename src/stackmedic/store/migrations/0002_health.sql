-- Health history: one row per change of a deployment's verdict or of its services' statuses.
CREATE TABLE health_transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    deployment TEXT NOT NULL,
    verdict TEXT NOT NULL,
    previous TEXT,
    reason TEXT NOT NULL,
    services TEXT NOT NULL
);
CREATE INDEX health_transitions_deployment ON health_transitions (deployment, id);
CREATE INDEX health_transitions_ts ON health_transitions (ts);
