"""The `logs:` config section: following container logs, log-pattern rules and triage."""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stackmedic.logwatch.levels import Level
from stackmedic.types import Severity

PositiveSeconds = Annotated[float, Field(gt=0)]
NonNegativeSeconds = Annotated[float, Field(ge=0)]


class LogRule(BaseModel):
    """One log-pattern rule: fire when `count` matching lines of one fingerprint arrive
    within `window_seconds`; tell it once per `cooldown_seconds`; resolve after
    `quiet_seconds` without a match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
                      description="Unique rule name (letters, digits, `_.:-`).")
    pattern: str | None = Field(
        default=None, description="Python regular expression searched in each line "
        "(case-sensitive unless it starts with (?i)); empty: every line of `level`.")
    level: Level | None = Field(
        default=None, description="Only lines at this level or above (read from JSON "
        "`level`/`severity`, logfmt `level=`, or an ERROR/WARN-style prefix).")
    count: int = Field(default=1, ge=1, description="Matching lines needed within the window.")
    window_seconds: PositiveSeconds = Field(default=60, description="The window of `count`.")
    cooldown_seconds: NonNegativeSeconds = Field(
        default=1800, description="One notice per fingerprint per this long.")
    quiet_seconds: PositiveSeconds = Field(
        default=300, description="A firing fingerprint resolves after this long without a match.")
    severity: Severity = Field(default=Severity.WARNING, description="warning or critical.")
    deployments: list[str] = Field(default_factory=list,
                                   description="Only these deployments (empty: all).")
    services: list[str] = Field(default_factory=list,
                                description="Only these services (empty: all).")
    exclude_services: list[str] = Field(default_factory=list,
                                        description="Never these services.")
    affects_health: bool = Field(
        default=False, description="While firing, the deployment's verdict is degraded.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern {value!r} is not a regular expression: {exc}") from None
        return value or None

    @field_validator("severity")
    @classmethod
    def _alerting(cls, value: Severity) -> Severity:
        if value is Severity.INFO:
            raise ValueError("a log rule's severity is warning or critical, not info")
        return value

    @model_validator(mode="after")
    def _says_something(self) -> Self:
        if self.pattern is None and self.level is None:
            raise ValueError(f"log rule {self.name!r} needs a pattern, a level or both")
        return self

    def applies_to(self, deployment: str, service: str) -> bool:
        """Whether this rule reads the lines of ``service`` of ``deployment``."""
        if self.deployments and deployment not in self.deployments:
            return False
        if self.services and service not in self.services:
            return False
        return service not in self.exclude_services


class TriageConfig(BaseModel):
    """Opt-in triage of a new burst by the LLM endpoint of `recovery.llm`."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    enabled: bool = False
    """Ask `recovery.llm`'s endpoint for a verdict on each newly firing fingerprint."""
    max_calls_per_day: int = Field(default=50, ge=1)
    """Calls allowed per rolling 24 hours; beyond it notices go without triage."""
    cache_hours: PositiveSeconds = 24
    """A fingerprint's verdict is reused for this long."""
    sample_lines: int = Field(default=20, ge=1, le=200)
    """Recent lines of the container sent with the burst (redacted)."""
    timeout_seconds: PositiveSeconds = 30
    """How long a notice waits for its triage before it goes without."""


class LogsConfig(BaseModel):
    """Following container logs for log-pattern rules."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    enabled: bool = True
    """Follow the logs of every running container of every deployment."""
    default_rules: bool = True
    """Apply the built-in rules (panics, tracebacks, out of memory, fatal levels)."""
    rules: list[LogRule] = Field(default_factory=list)
    """Rules of your own; they are tried before the built-in ones (first match counts)."""
    max_line_bytes: int = Field(default=16384, ge=256, le=1024 * 1024)
    """Longer lines are cut to this length (and counted as cut)."""
    max_lines_per_second: int = Field(default=2000, ge=10)
    """Lines read per container per second; a louder container is read at this pace."""
    max_lag_seconds: PositiveSeconds = 30
    """A container further behind than this is skipped ahead to now (the gap is counted)."""
    recent_lines: int = Field(default=50, ge=0, le=1000)
    """Recent lines kept in memory per container (for triage)."""
    max_fingerprints: int = Field(default=200, ge=10)
    """Fingerprints kept per deployment; the least recently seen go first."""
    retention_days: PositiveSeconds = 14
    """Fingerprints not seen for this long are deleted."""
    flush_seconds: PositiveSeconds = 2
    """How often counts and read positions are written to the store."""
    evidence_minutes: PositiveSeconds = 15
    """Fingerprints seen this recently go into recovery's diagnosis."""
    triage: TriageConfig = Field(default_factory=TriageConfig)

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[LogRule]) -> list[LogRule]:
        names = [r.name for r in rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"log rule names must be unique; repeated: {', '.join(twice)}")
        return rules
