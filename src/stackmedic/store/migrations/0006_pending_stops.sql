-- Stops seen on the engine that wait for a decision (intent or daemon shutdown).
-- Stored before they are decided, so an agent restart or kill does not lose them.
CREATE TABLE pending_stops (
    container_id TEXT NOT NULL,
    stop_at REAL NOT NULL,          -- the engine's time of the stop event
    deployment TEXT NOT NULL,
    service TEXT NOT NULL,
    kill_at REAL,                   -- the first kill since the container last started
    die_at REAL,
    exit_code INTEGER,
    daemon TEXT,                    -- identity (pid:start) of the daemon that reported it
    answered_at REAL,               -- the daemon accepted a new connection then (after kill_at)
    refused_at REAL,                -- the daemon refused a new connection then
    seen_at REAL NOT NULL,
    PRIMARY KEY (container_id, stop_at)
);
CREATE INDEX pending_stops_deployment ON pending_stops (deployment);
