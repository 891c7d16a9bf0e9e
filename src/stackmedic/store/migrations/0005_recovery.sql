-- Recovery runs: trigger, evidence, diagnosis, actions and outcome.
CREATE TABLE recovery_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment TEXT NOT NULL,
    trigger TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    attempt INTEGER NOT NULL DEFAULT 1,
    outcome TEXT NOT NULL DEFAULT 'running',
    source TEXT,
    diagnosis TEXT,
    evidence TEXT,
    actions TEXT,
    error TEXT
);
CREATE INDEX recovery_runs_deployment ON recovery_runs (deployment, started_at);

-- Per-deployment recovery limits: attempts in the window, backoff, give-up.
CREATE TABLE recovery_state (
    deployment TEXT PRIMARY KEY,
    phase TEXT NOT NULL,
    attempts TEXT NOT NULL,
    failures INTEGER NOT NULL,
    next_attempt_at REAL,
    gave_up_at REAL,
    gave_up_reason TEXT,
    updated_at REAL NOT NULL
);
