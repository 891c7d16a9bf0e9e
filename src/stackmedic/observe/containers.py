"""One container's observed state, read from the engine's inspect answer."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_ONEOFF = "com.docker.compose.oneoff"
LABEL_CONFIG_HASH = "com.docker.compose.config-hash"
ZERO_TIME = "0001-01-01T00:00:00Z"
LABEL_ONESHOT = "stackmedic.oneshot"
NO_RESTART = ("", "no")
# Policies under which Docker restarts a container that died by itself (a stop or a
# ``docker kill`` by a person marks it stopped by hand: none of them restarts it then).
RESTARTING_POLICIES = ("always", "unless-stopped", "on-failure")
HEALTH_IN_STATUS = re.compile(r"\((healthy|unhealthy|health: starting)\)")


def parse_time(value: str | None) -> float | None:
    """Seconds since the epoch from the engine's RFC 3339 time, None for the zero time."""
    if not value or value.startswith("0001-01-01"):
        return None
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(trimmed).timestamp()
    except ValueError:
        return None


@dataclass
class ContainerState:
    """What the engine says about one container of a Compose project."""

    id: str
    name: str
    project: str
    service: str
    number: int = 1
    image: str = ""
    status: str = "created"  # created / running / restarting / paused / exited / dead / removing
    health: str = "none"  # none / starting / healthy / unhealthy
    health_output: str | None = None
    health_failing_streak: int = 0
    exit_code: int | None = None
    oom_killed: bool = False
    restart_count: int = 0
    restart_policy: str = "no"
    restart_retries: int = 0  # on-failure's maximum retry count; 0: no limit
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    config_hash: str | None = None
    oneoff: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    # Set by recovery's exit ledger, not by the engine: why the last exit (the one at
    # ``finished_at``) happened
    # ("stop" when a stop or a daemon shutdown caused it, "own" when it ended by itself,
    # "" when unknown) and whether the deployment declares the service a one-shot job.
    exit_cause: str = ""
    job: bool = False
    # Also the ledger's: OOM kills of this service so far, across container recreation.
    oom_kills: int = 0

    @property
    def running(self) -> bool:
        """True when the main process runs (paused counts as not serving)."""
        return self.status == "running"

    @property
    def being_created(self) -> bool:
        """Created and never started, with no error from a start that failed (the engine
        tells of a failed start by no event, only by ``State.Error``)."""
        return self.status == "created" and not self.started_at and not self.error

    @property
    def completed(self) -> bool:
        """True for a declared or evident one-shot job that ended cleanly, not by a stop.

        A declared job (``job``) completed when it exited 0 by itself; a service without
        a restart policy counts as a job that completed when it exited 0 and nothing says
        a stop caused the exit. A stop's exit (a person's, stackmedic's or the daemon's
        shutdown) never completes anything: that service is wanted running again.
        """
        if self.status != "exited" or self.exit_code != 0 or self.oom_killed:
            return False
        if self.exit_cause == "stop":
            return False
        # Docker restarts nothing that exits 0 under ``on-failure``: that job is done by
        # its own policy's terms (``docs/behaviour.md``, row ``exit0-on-failure``).
        return self.job or self.restart_policy in (*NO_RESTART, "on-failure")

    @property
    def restarted_by_policy(self) -> bool:
        """Whether Docker's restart policy is restarting it, or will when it dies by itself.

        An exited container is one the policy left alone (stopped or killed by a person,
        ``on-failure`` retries used up, an exit 0 under ``on-failure``).
        """
        if self.status == "restarting":
            return True
        if self.status != "running" or self.restart_policy not in RESTARTING_POLICIES:
            return False
        return self.restart_policy != "on-failure" or self.retries_left

    @property
    def retries_left(self) -> bool:
        """Whether ``on-failure`` still has restarts to give (0 retries: no limit)."""
        return not self.restart_retries or self.restart_count < self.restart_retries

    @property
    def restarted_after_exit(self) -> bool:
        """Whether Docker's restart policy restarts it after the exit it shows (a start that
        follows is the policy's, not a person's): never under ``no``, nor after an exit 0
        or with its retries used up under ``on-failure``."""
        if self.status == "restarting":
            return True
        if self.restart_policy in ("always", "unless-stopped"):
            return True
        if self.restart_policy != "on-failure" or self.exit_code in (None, 0):
            return False
        return self.retries_left

    def summary_key(self) -> tuple[str, str]:
        """What a container list entry can tell about this state, to spot changes cheaply."""
        return (self.status, self.health)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form without the labels."""
        data = asdict(self)
        data.pop("labels")
        return data


def parse_inspect(data: dict[str, Any]) -> ContainerState | None:
    """Build a state from ``GET /containers/{id}/json``; None when not a Compose container."""
    config = data.get("Config") or {}
    labels: dict[str, str] = config.get("Labels") or {}
    project = labels.get(LABEL_PROJECT)
    service = labels.get(LABEL_SERVICE)
    if not project or not service:
        return None
    state = data.get("State") or {}
    health = state.get("Health") or {}
    status = str(state.get("Status") or "created")
    health_status = str(health.get("Status") or "none")
    logs = health.get("Log") or []
    last_output = str(logs[-1].get("Output", "")).strip() if logs else None
    started = parse_time(state.get("StartedAt"))
    finished = parse_time(state.get("FinishedAt"))
    exit_code = state.get("ExitCode")
    if status != "running" and health_status != "none":
        # An exited container keeps its last health status; it is not being probed.
        health_status = "none"
    restart = (data.get("HostConfig") or {}).get("RestartPolicy") or {}
    policy = restart.get("Name") or "no"
    try:
        number = int(labels.get(LABEL_NUMBER, "1"))
    except ValueError:
        number = 1
    return ContainerState(
        id=str(data.get("Id", "")),
        name=str(data.get("Name", "")).lstrip("/"),
        project=project,
        service=service,
        number=number,
        image=str(config.get("Image") or ""),
        status=status,
        health=health_status,
        health_output=last_output,
        health_failing_streak=int(health.get("FailingStreak") or 0),
        exit_code=None if status in ("created", "running") and not finished else exit_code,
        oom_killed=bool(state.get("OOMKilled")),
        restart_count=int(data.get("RestartCount") or 0),
        restart_policy=policy,
        restart_retries=int(restart.get("MaximumRetryCount") or 0),
        started_at=started,
        finished_at=finished,
        error=state.get("Error") or None,
        config_hash=labels.get(LABEL_CONFIG_HASH),
        oneoff=labels.get(LABEL_ONEOFF, "False") == "True",
        labels=labels,
        job=labels.get(LABEL_ONESHOT, "").lower() in ("true", "1", "yes"),
    )


def summary_of_list_entry(entry: dict[str, Any]) -> tuple[str, str]:
    """The (status, health) a container list entry shows, comparable to ``summary_key``."""
    status = str(entry.get("State") or "")
    match = HEALTH_IN_STATUS.search(str(entry.get("Status") or ""))
    health = "none"
    if match and status == "running":
        health = "starting" if match[1] == "health: starting" else match[1]
    return (status, health)
