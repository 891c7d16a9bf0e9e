"""The configuration schema; every key has a default so an empty file is a valid config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from stackmedic.notify.config import NotifyConfig
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.resources.config import ResourcesConfig

PositiveSeconds = Annotated[float, Field(gt=0)]


class Section(BaseModel):
    """Base for config sections: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class ApiConfig(Section):
    """Where the HTTP API listens and how it authenticates."""

    host: str = "127.0.0.1"
    port: int = Field(default=8477, ge=1, le=65535)
    token: SecretStr | None = None
    token_file: Path | None = None
    metrics_public: bool = True


class DockerConfig(Section):
    """How the agent reaches the Docker Engine."""

    host: str | None = None
    request_timeout_seconds: PositiveSeconds = 30
    reconnect_initial_seconds: PositiveSeconds = 0.5
    reconnect_max_seconds: PositiveSeconds = 30

    @field_validator("host")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("unix://", "tcp://", "http://", "https://")):
            raise ValueError("must start with unix://, tcp://, http:// or https://")
        return value


class ComposeConfig(Section):
    """How the agent runs Docker Compose v2."""

    command: list[str] | None = None
    timeout_seconds: PositiveSeconds = 300
    config_timeout_seconds: PositiveSeconds = 30


class IntentConfig(Section):
    """How stops seen on the engine become the user's intent."""

    stop_settle_seconds: PositiveSeconds = 15
    start_settle_seconds: PositiveSeconds = 30


class HealthConfig(Section):
    """How observed container states roll up into deployment verdicts."""

    sweep_interval_seconds: PositiveSeconds = 30
    start_grace_seconds: PositiveSeconds = 30
    crash_loop_restarts: int = Field(default=3, ge=1)
    crash_loop_window_seconds: PositiveSeconds = 300


class Settings(Section):
    """The whole agent configuration."""

    data_dir: Path = Path("data")
    deployments_path: Path = Path("deployments")
    adopt_running: bool = False
    rescan_interval_seconds: PositiveSeconds = 5
    boot_id_path: Path = Path("/proc/sys/kernel/random/boot_id")
    event_retention_days: PositiveSeconds = 30
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    api: ApiConfig = ApiConfig()
    docker: DockerConfig = DockerConfig()
    compose: ComposeConfig = ComposeConfig()
    intent: IntentConfig = IntentConfig()
    health: HealthConfig = HealthConfig()
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    notifications: NotifyConfig = Field(default_factory=NotifyConfig)
    recovery: RecoveryConfig = Field(default_factory=RecoveryConfig)

    @property
    def database_path(self) -> Path:
        """The SQLite file inside the data folder."""
        return self.data_dir / "stackmedic.db"

    @property
    def resolved_token_file(self) -> Path:
        """Where the generated API token lives."""
        return self.api.token_file or self.data_dir / "api-token"
