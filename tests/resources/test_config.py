"""The `resources:` config section."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stackmedic.resources import ResourcesConfig, SpikeRule


def test_defaults_match_the_documented_rules() -> None:
    config = ResourcesConfig()
    assert config.sample_interval_seconds == 10
    assert (config.raw_retention_hours, config.minute_retention_days) == (24, 7)
    rules = {r.name: r for r in config.rules}
    memory = rules["container-memory-high"]
    assert (memory.metric, memory.threshold, memory.clear_below, memory.for_seconds) == (
        "container_memory_percent",
        90,
        80,
        120,
    )
    assert rules["container-cpu-high"].for_seconds == 300
    assert rules["host-memory-high"].metric == "host_memory_percent"
    assert {r.aggregate for r in config.rules} == {"avg"}
    # Netdata's 10min_cpu_usage and disk_space_usage: warning and critical, averaged.
    shown = {name: (r.threshold, r.clear_below, r.for_seconds, r.severity.value)
             for name, r in rules.items() if name.startswith(("host-cpu", "host-disk"))}
    assert shown == {
        "host-cpu-high": (85, 75, 600, "warning"),
        "host-cpu-critical": (95, 85, 600, "critical"),
        "host-disk-high": (90, 80, 60, "warning"),
        "host-disk-full": (98, 90, 60, "critical"),
    }


def test_a_rule_written_before_aggregates_reads_as_an_average() -> None:
    rule = SpikeRule.model_validate({"name": "cpu", "metric": "container_cpu_percent",
                                     "threshold": 90, "clear_below": 80, "for_seconds": 300})
    assert rule.aggregate == "avg"
    strict = rule.model_copy(update={"aggregate": "min"})
    assert strict.aggregate == "min"


def test_an_unknown_aggregate_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="aggregate"):
        SpikeRule.model_validate({"name": "cpu", "metric": "container_cpu_percent",
                                  "threshold": 90, "aggregate": "max"})


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError):
        ResourcesConfig.model_validate({"sample_interval": 5})
    with pytest.raises(ValidationError):
        SpikeRule.model_validate(
            {"name": "x", "metric": "host_cpu_percent", "threshold": 1, "for": 5}
        )


@pytest.mark.parametrize(
    "rule",
    [
        {"name": "x", "metric": "container_cpu_percent", "threshold": 80, "clear_below": 90},
        {"name": "x", "metric": "host_memory_percent", "threshold": 80, "deployments": ["a"]},
        {"name": "x", "metric": "gpu_percent", "threshold": 80},
        {"name": "has space", "metric": "host_cpu_percent", "threshold": 80},
        {"name": "x", "metric": "host_cpu_percent", "threshold": 80, "severity": "info"},
    ],
)
def test_invalid_rules(rule: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SpikeRule.model_validate(rule)


def test_rule_names_are_unique() -> None:
    rule = {"name": "same", "metric": "host_cpu_percent", "threshold": 80}
    with pytest.raises(ValidationError, match="duplicate"):
        ResourcesConfig.model_validate({"rules": [rule, rule]})


def test_scope() -> None:
    rule = SpikeRule(
        name="x",
        metric="container_memory_percent",
        threshold=90,
        deployments=["shop", "blog"],
        exclude_services=["cache"],
    )
    assert rule.applies_to("shop", "web")
    assert not rule.applies_to("shop", "cache")
    assert not rule.applies_to("wiki", "web")
    assert rule.clear_threshold == 90
