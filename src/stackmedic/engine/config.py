"""The ``docker:`` section of the agent config."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

PositiveSeconds = Annotated[float, Field(gt=0)]


class DockerConfig(BaseModel):
    """How the agent reaches the Docker Engine."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    host: str | None = None
    """Docker Engine address (default: $DOCKER_HOST, else unix:///var/run/docker.sock)."""
    request_timeout_seconds: PositiveSeconds = 30
    """Timeout of one Engine API request."""
    reconnect_initial_seconds: PositiveSeconds = 0.5
    """First wait before reconnecting to an unreachable engine; doubles each time."""
    reconnect_max_seconds: PositiveSeconds = 30
    """Longest wait between reconnect attempts."""

    @field_validator("host")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("unix://", "tcp://", "http://", "https://")):
            raise ValueError("must start with unix://, tcp://, http:// or https://")
        return value
