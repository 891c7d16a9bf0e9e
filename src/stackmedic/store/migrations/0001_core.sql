-- Desired state per deployment (service = '') and per service.
CREATE TABLE desired_states (
    deployment TEXT NOT NULL,
    service TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('running', 'stopped')),
    source TEXT NOT NULL,
    changed_at REAL NOT NULL,
    PRIMARY KEY (deployment, service)
);

-- The agent's event log: every state change, intent change and action.
CREATE TABLE agent_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    deployment TEXT,
    service TEXT,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT 'info',
    message TEXT NOT NULL,
    data TEXT
);
CREATE INDEX agent_events_ts ON agent_events (ts);
CREATE INDEX agent_events_deployment ON agent_events (deployment, ts);
CREATE INDEX agent_events_kind ON agent_events (kind, ts);

-- Small key/value facts the agent keeps across restarts (event cursor, boot id, ...).
CREATE TABLE agent_facts (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);
