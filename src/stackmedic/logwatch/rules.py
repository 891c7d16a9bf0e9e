"""Which rules read which service's lines, and the first rule a line matches.

Rules come from three places, tried in this order: a service's own label
``stackmedic.logs.rules`` (a YAML or JSON list of rules), the config's ``logs.rules``,
then the built-in ones (unless ``logs.default_rules: false`` or the label
``stackmedic.logs.default_rules=false``). A line counts for the first rule it matches only.
The label ``stackmedic.logs=false`` leaves a service's logs unread.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml
from pydantic import TypeAdapter, ValidationError

from stackmedic.logwatch.config import LogRule, LogsConfig
from stackmedic.logwatch.levels import Level, parse_level
from stackmedic.types import Severity

RULES_LABEL = "stackmedic.logs.rules"
DEFAULTS_LABEL = "stackmedic.logs.default_rules"
FOLLOW_LABEL = "stackmedic.logs"
_FALSE = ("false", "0", "no", "off")

DEFAULT_RULES: tuple[LogRule, ...] = (
    LogRule(name="panic", severity=Severity.CRITICAL,
            pattern=r"^(?:panic: |fatal error: |thread '[^']*' panicked at|PANIC: )"),
    LogRule(name="traceback",
            pattern=r"^(?:Traceback \(most recent call last\):|Exception in thread \"|"
                    r"Unhandled exception|Uncaught exception)"),
    LogRule(name="out-of-memory", severity=Severity.CRITICAL,
            pattern=r"(?i)(?:\bout of memory\b|OutOfMemoryError|Cannot allocate memory|"
                    r"^MemoryError\b|heap out of memory|oom-?kill)"),
    LogRule(name="fatal", level=Level.FATAL, severity=Severity.CRITICAL),
    LogRule(name="error-burst", level=Level.ERROR, count=20, window_seconds=60),
)
_RULE_LIST = TypeAdapter(list[LogRule])


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its regular expression compiled."""

    rule: LogRule
    regex: re.Pattern[str] | None

    @classmethod
    def of(cls, rule: LogRule) -> CompiledRule:
        """Compile ``rule``."""
        return cls(rule, re.compile(rule.pattern) if rule.pattern else None)


@dataclass(frozen=True)
class ServiceRules:
    """The rules one service's lines are read against, and what was wrong with its labels."""

    rules: tuple[CompiledRule, ...]
    follow: bool = True
    problem: str | None = None

    def first_match(self, text: str) -> LogRule | None:
        """The first rule ``text`` matches, or None."""
        level: Level | None = None
        read_level = False
        for compiled in self.rules:
            if compiled.regex is not None and compiled.regex.search(text) is None:
                continue
            wanted = compiled.rule.level
            if wanted is not None:
                if not read_level:
                    level, read_level = parse_level(text), True
                if level is None or level < wanted:
                    continue
            return compiled.rule
        return None


def label_rules(labels: Mapping[str, str]) -> tuple[list[LogRule], str | None]:
    """The rules a service declares in its label, and the error when they are invalid."""
    text = labels.get(RULES_LABEL)
    if not text:
        return [], None
    try:
        data = yaml.safe_load(text)
        if isinstance(data, dict):
            data = [data]
        return _RULE_LIST.validate_python(data), None
    except (yaml.YAMLError, ValidationError) as exc:
        first = str(exc).splitlines()
        detail = "; ".join(line.strip() for line in first[:4])
        return [], f"label {RULES_LABEL} ignored: {detail}"


def rules_for(config: LogsConfig, deployment: str, service: str,
              labels: Mapping[str, str]) -> ServiceRules:
    """Every rule that reads ``service`` of ``deployment``, in the order they are tried."""
    if labels.get(FOLLOW_LABEL, "true").strip().lower() in _FALSE:
        return ServiceRules((), follow=False)
    own, problem = label_rules(labels)
    chosen: list[LogRule] = list(own)
    chosen += [r for r in config.rules if r.applies_to(deployment, service)]
    defaults = config.default_rules and (
        labels.get(DEFAULTS_LABEL, "true").strip().lower() not in _FALSE)
    if defaults:
        taken = {r.name for r in chosen}
        chosen += [r for r in DEFAULT_RULES
                   if r.name not in taken and r.applies_to(deployment, service)]
    return ServiceRules(tuple(CompiledRule.of(r) for r in chosen), problem=problem)


