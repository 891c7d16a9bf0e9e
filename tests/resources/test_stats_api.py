"""Parsing the engine's stats API answers and host configs."""

from __future__ import annotations

from typing import Any

import pytest

from stackmedic.resources.stats_api import cpu_limit_from_host_config, parse_stats


def stats(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "read": "2026-01-01T00:00:01.5Z",
        "cpu_stats": {
            "cpu_usage": {"total_usage": 3_000_000_000},
            "system_cpu_usage": 40_000_000_000,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 0}},
        "memory_stats": {
            "usage": 50_000_000,
            "limit": 100_000_000,
            "stats": {"total_inactive_file": 10_000_000},
        },
    }
    raw.update(overrides)
    return raw


def test_one_shot_answer_has_no_cpu_percent_yet() -> None:
    reading = parse_stats(stats())
    assert reading is not None
    assert reading.memory_bytes == 40_000_000 and reading.memory_limit_bytes == 100_000_000
    assert (reading.cpu_ns, reading.system_ns, reading.online_cpus) == (3e9, 4e10, 2)
    assert reading.cpu_core_percent is None


def test_answer_with_precpu_gives_percent_like_docker_stats() -> None:
    pre = {"cpu_usage": {"total_usage": 2_000_000_000}, "system_cpu_usage": 38_000_000_000}
    reading = parse_stats(stats(precpu_stats=pre))
    assert reading is not None
    assert reading.cpu_core_percent == pytest.approx(100.0)


def test_v2_memory_uses_inactive_file() -> None:
    memory = {"usage": 30, "limit": 100, "stats": {"inactive_file": 10}}
    reading = parse_stats(stats(memory_stats=memory))
    assert reading is not None and reading.memory_bytes == 20


def test_stopped_container_has_no_reading() -> None:
    assert parse_stats(stats(memory_stats={})) is None
    assert parse_stats(stats(read="0001-01-01T00:00:00Z")) is None


@pytest.mark.parametrize(
    ("host_config", "cores"),
    [
        ({}, None),
        ({"NanoCpus": 1_500_000_000}, 1.5),
        ({"CpuQuota": 50_000, "CpuPeriod": 100_000}, 0.5),
        ({"CpuQuota": 50_000}, 0.5),
        ({"CpusetCpus": "0-1"}, 2.0),
        ({"NanoCpus": 3_000_000_000, "CpusetCpus": "3"}, 1.0),
    ],
)
def test_cpu_limit(host_config: dict[str, Any], cores: float | None) -> None:
    assert cpu_limit_from_host_config(host_config) == cores
