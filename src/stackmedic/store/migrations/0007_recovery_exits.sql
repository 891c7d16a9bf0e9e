-- Why each container last exited, kept across agent restarts: a container the agent last
-- saw running that is found exited after a daemon or host restart was stopped by it.
CREATE TABLE container_exits (
    container_id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    service TEXT NOT NULL,
    running_seen_at REAL,
    stop_requested_at REAL,
    finished_at REAL,
    exit_cause TEXT,
    oom_run REAL,
    updated_at REAL NOT NULL
);
CREATE INDEX container_exits_service ON container_exits (project, service);

-- OOM kills per service, counted once per killed run, across container recreation.
CREATE TABLE service_ooms (
    project TEXT NOT NULL,
    service TEXT NOT NULL,
    kills INTEGER NOT NULL,
    last_at REAL NOT NULL,
    PRIMARY KEY (project, service)
);
