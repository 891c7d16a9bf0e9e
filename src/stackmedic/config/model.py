"""The configuration schema; every key has a default so an empty file is a valid config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from stackmedic.engine.config import DockerConfig
from stackmedic.health.config import HealthConfig
from stackmedic.logwatch.config import LogsConfig
from stackmedic.metrics.config import MetricsConfig
from stackmedic.notify.config import NotifyConfig
from stackmedic.probes.config import ProbesConfig
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.resources.config import ResourcesConfig
from stackmedic.supervise.config import SupervisionConfig

PositiveSeconds = Annotated[float, Field(gt=0)]


class Section(BaseModel):
    """Base for config sections: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ApiConfig(Section):
    """Where the HTTP API listens and how it authenticates."""

    host: str = "127.0.0.1"
    """Address the API listens on; keep 127.0.0.1 unless a proxy with TLS fronts it."""
    port: int = Field(default=8477, ge=0, le=65535)
    """TCP port of the API, the dashboard and /metrics (0 picks a free port)."""
    token: SecretStr | None = None
    """Bearer token for /api; when unset one is generated into token_file."""
    token_file: Path | None = None
    """Where the generated token is kept (default: DATA_DIR/api-token)."""
    metrics_public: bool = True
    """Serve /metrics without the token (for a Prometheus scraper on the host)."""
    read_token: SecretStr | None = None
    """Read-only bearer token (GET on /api, viewing the dashboard); generated when unset."""
    read_token_file: Path | None = None
    """Where the generated read-only token is kept (default: DATA_DIR/api-read-token)."""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    """Longest request body accepted; longer ones get 413 before they are read."""
    login_attempts: int = Field(default=10, ge=1)
    """Failed dashboard logins, and wrong API tokens (counted apart), one client may make
    per login_window_seconds before 429; a right API token always passes."""
    login_window_seconds: PositiveSeconds = 60
    """The window of login_attempts."""


class ComposeConfig(Section):
    """How the agent runs Docker Compose v2."""

    command: list[str] | None = None
    """Compose v2 command, e.g. ["docker", "compose"]; found automatically when unset."""
    timeout_seconds: PositiveSeconds = 300
    """Timeout of one Compose command (up, stop, ...)."""
    config_timeout_seconds: PositiveSeconds = 30
    """Timeout of `compose config` when reading a deployment."""


class IntentConfig(Section):
    """How stops seen on the engine become the user's intent."""

    stop_settle_seconds: PositiveSeconds = 15
    """How long the daemon must stay up after a stop before it counts as the user's intent
    (an orderly daemon shutdown stops containers too). Keep it above the longest stop timeout.
    """
    start_settle_seconds: PositiveSeconds = 30
    """Starts seen this soon after (re)connecting may be restart policies at boot, not a user."""


class Settings(Section):
    """The whole agent configuration."""

    data_dir: Path = Path("data")
    """Folder for the SQLite database and the generated API token."""
    deployments_path: Path = Path("deployments")
    """One sub-folder per deployment, each holding its compose file."""
    adopt_running: bool = False
    """Also look after Compose projects found running elsewhere (by their labels)."""
    rescan_interval_seconds: PositiveSeconds = 5
    """How often the deployments folder is read again for new, changed or removed deployments."""
    boot_id_path: Path = Path("/proc/sys/kernel/random/boot_id")
    """File whose content changes on every host boot."""
    event_retention_days: PositiveSeconds = 30
    """Agent event log rows older than this are deleted."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Log verbosity."""
    log_format: Literal["console", "json"] = "console"
    """Log lines for people (console) or for log collectors (json)."""
    api: ApiConfig = ApiConfig()
    docker: DockerConfig = DockerConfig()
    compose: ComposeConfig = ComposeConfig()
    intent: IntentConfig = IntentConfig()
    health: HealthConfig = HealthConfig()
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    notifications: NotifyConfig = Field(default_factory=NotifyConfig)
    recovery: RecoveryConfig = Field(default_factory=RecoveryConfig)
    supervision: SupervisionConfig = Field(default_factory=SupervisionConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    probes: ProbesConfig = Field(default_factory=ProbesConfig)

    @property
    def database_path(self) -> Path:
        """The SQLite file inside the data folder."""
        return self.data_dir / "stackmedic.db"

    @property
    def resolved_token_file(self) -> Path:
        """Where the generated API token lives."""
        return self.api.token_file or self.data_dir / "api-token"

    @property
    def resolved_read_token_file(self) -> Path:
        """Where the generated read-only API token lives."""
        return self.api.read_token_file or self.data_dir / "api-read-token"
