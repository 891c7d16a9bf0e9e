"""Settings for recovery: when it acts, how often, and the optional LLM adviser."""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr

PositiveSeconds = Annotated[float, Field(gt=0)]


class LlmConfig(BaseModel):
    """An OpenAI-compatible chat endpoint that may propose recovery actions."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    url: HttpUrl
    """Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:11434/v1 (Ollama)."""
    model: str
    """Model name sent with each request."""
    api_key: SecretStr | None = None
    """Sent as a bearer token; never logged."""
    timeout_seconds: PositiveSeconds = 20
    """Total deadline of one call; the rules decide when it passes."""
    max_calls_per_hour: int = Field(default=20, ge=1)
    """Budget of calls per hour; beyond it the rules decide."""
    cache_seconds: PositiveSeconds = 600
    """Identical evidence reuses the last answer this long."""
    max_tokens: int = Field(default=1024, ge=64, le=32768)
    """Upper bound on the length of the model's answer, in tokens."""
    temperature: float = Field(default=0.0, ge=0, le=2)
    """Sampling temperature; 0 keeps answers repeatable."""
    max_evidence_chars: int = Field(default=16000, ge=1000)
    """Size limit of the evidence JSON in the prompt; longer strings are cut to their tails."""


class RecoveryConfig(BaseModel):
    """When and how stackmedic brings deployments back to their desired state."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    enabled: bool = True
    """Act at all; when false stackmedic only watches and notifies."""
    settle_seconds: PositiveSeconds = 20
    """Wait this long after a deployment turns ill (restart policies act first); after a
    host or daemon restart, the longest wait for Docker's restart policies to bring their
    containers back (what no policy brings back is acted on at once)."""
    boot_parallelism: int | None = Field(default=None, ge=1, le=64)
    """Deployments reconciled at once after a host or daemon restart; unset: two per CPU
    core, at least 4 and at most 16 (Compose mostly waits on the daemon)."""
    backoff_initial_seconds: PositiveSeconds = 10
    """Wait after the first failed attempt; doubles after each further one."""
    backoff_max_seconds: PositiveSeconds = 300
    """Longest wait between attempts."""
    attempt_budget: int = Field(default=5, ge=1)
    """Attempts allowed per window before giving up (needs a person then)."""
    budget_window_seconds: PositiveSeconds = 1800
    """The attempt budget's window."""
    reset_after_healthy_seconds: PositiveSeconds = 600
    """Past attempts are forgotten after this long healthy."""
    gave_up_clear_healthy_seconds: PositiveSeconds = 60
    """A give-up is cleared when the deployment stays healthy on its own this long."""
    verify_timeout_seconds: PositiveSeconds = 60
    """After acting, the deployment must be healthy within this long."""
    verify_stable_seconds: PositiveSeconds = 5
    """...and stay healthy this long, before it counts as recovered."""
    run_timeout_seconds: PositiveSeconds = 900
    """Overall deadline of one recovery run (diagnosis, actions, verification); past it
    the run ends as timed-out, the deployment's lock is released and the next attempt
    follows the backoff. Keep it above two Compose timeouts plus verify_timeout_seconds."""
    log_tail_lines: int = Field(default=50, ge=0, le=1000)
    """Log lines per failing service kept as evidence (secrets redacted)."""
    llm: LlmConfig | None = None
    """Optional LLM adviser; the built-in rules decide when unset or when it fails."""


def boot_parallelism(config: RecoveryConfig, cores: int | None = None) -> int:
    """How many deployments a restart reconcile acts on at once."""
    if config.boot_parallelism is not None:
        return config.boot_parallelism
    found = cores if cores is not None else (os.cpu_count() or 1)
    return min(16, max(4, 2 * found))
