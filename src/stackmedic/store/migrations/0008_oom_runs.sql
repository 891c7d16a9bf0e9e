-- OOM kills of a container's current run from each source, so that one kill seen by the
-- engine's `oom` event, the container's OOMKilled flag and its cgroup counter counts once.
ALTER TABLE container_exits ADD COLUMN oom_events INTEGER NOT NULL DEFAULT 0;
ALTER TABLE container_exits ADD COLUMN oom_cgroup INTEGER NOT NULL DEFAULT 0;
ALTER TABLE container_exits ADD COLUMN oom_flag INTEGER NOT NULL DEFAULT 0;
ALTER TABLE container_exits ADD COLUMN oom_counted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE container_exits ADD COLUMN oom_event_at REAL;
UPDATE container_exits SET oom_flag = 1, oom_counted = 1 WHERE oom_run IS NOT NULL;
