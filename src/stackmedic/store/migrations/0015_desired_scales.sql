-- How many containers of a scaled service a person keeps running, after stopping some of
-- them by hand while the others ran. It holds while the service has exactly the containers
-- it had then (a scale or redeploy by anyone makes new ones, and the record no longer applies).
CREATE TABLE desired_scales (
    deployment TEXT NOT NULL,
    service TEXT NOT NULL,
    replicas INTEGER NOT NULL,
    containers TEXT NOT NULL,       -- the service's container ids then, sorted, comma-separated
    changed_at REAL NOT NULL,
    PRIMARY KEY (deployment, service)
);
