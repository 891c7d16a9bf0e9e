"""Settings for recovery: when it acts, how often, and the optional LLM adviser."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr

PositiveSeconds = Annotated[float, Field(gt=0)]


class LlmConfig(BaseModel):
    """An OpenAI-compatible chat endpoint that may propose recovery actions."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    model: str
    api_key: SecretStr | None = None
    timeout_seconds: PositiveSeconds = 20
    max_calls_per_hour: int = Field(default=20, ge=1)
    cache_seconds: PositiveSeconds = 600
    max_tokens: int = Field(default=1024, ge=64, le=32768)
    """Upper bound on the length of the model's answer, in tokens."""
    temperature: float = Field(default=0.0, ge=0, le=2)
    """Sampling temperature; 0 keeps answers repeatable."""
    max_evidence_chars: int = Field(default=16000, ge=1000)
    """Size limit of the evidence JSON in the prompt; longer strings are cut to their tails."""


class RecoveryConfig(BaseModel):
    """When and how stackmedic brings deployments back to their desired state."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    settle_seconds: PositiveSeconds = 20
    boot_parallelism: int = Field(default=4, ge=1, le=64)
    backoff_initial_seconds: PositiveSeconds = 10
    backoff_max_seconds: PositiveSeconds = 300
    attempt_budget: int = Field(default=5, ge=1)
    budget_window_seconds: PositiveSeconds = 1800
    reset_after_healthy_seconds: PositiveSeconds = 600
    gave_up_clear_healthy_seconds: PositiveSeconds = 60
    verify_timeout_seconds: PositiveSeconds = 60
    verify_stable_seconds: PositiveSeconds = 5
    log_tail_lines: int = Field(default=50, ge=0, le=1000)
    llm: LlmConfig | None = None
