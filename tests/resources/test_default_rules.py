"""The default rules fire for what an operator calls a spike, whatever the host's size."""

from __future__ import annotations

import dataclasses

import pytest

from stackmedic.resources import ContainerSample, ResourcesConfig, RuleEngine

from .samples import container, snapshot


def cpu_sample(ts: float, *, core_percent: float, host_cores: int,
               limit_cores: float | None) -> ContainerSample:
    """A sample shaped like the sampler's: percent of limit = of min(host cores, limit)."""
    cores = float(host_cores) if limit_cores is None else min(host_cores, limit_cores)
    return dataclasses.replace(container(ts), cpu_core_percent=core_percent,
                               cpu_percent=core_percent / cores, cpu_limit_cores=cores)


def cpu_events(**shape: float | int | None) -> list[str]:
    """Feed 10 minutes of one container's CPU to the default rules; the CPU rule's events."""
    engine = RuleEngine(ResourcesConfig().rules)
    events = []
    for ts in range(0, 600, 10):
        sample = cpu_sample(float(ts), **shape)  # type: ignore[arg-type]
        events += engine.evaluate(snapshot(float(ts), sample))
    return [e.state for e in events if e.rule == "container-cpu-high"]


@pytest.mark.parametrize(("what", "shape"), [
    ("one core pinned on 2 cores", {"core_percent": 100, "host_cores": 2, "limit_cores": None}),
    ("one core pinned on 16 cores", {"core_percent": 100, "host_cores": 16, "limit_cores": None}),
    ("one core pinned on 64 cores", {"core_percent": 99, "host_cores": 64, "limit_cores": None}),
    ("held at a 0.5-core limit", {"core_percent": 50, "host_cores": 16, "limit_cores": 0.5}),
    ("3 cores busy, limit 4", {"core_percent": 300, "host_cores": 16, "limit_cores": 4}),
])
def test_default_cpu_rule_fires_for_a_sustained_spike(what: str,
                                                      shape: dict[str, float]) -> None:
    assert cpu_events(**shape) == ["firing"], what


@pytest.mark.parametrize(("what", "shape"), [
    ("idle web app", {"core_percent": 5, "host_cores": 2, "limit_cores": None}),
    ("half a core, no limit", {"core_percent": 50, "host_cores": 2, "limit_cores": None}),
    ("half of a 2-core limit", {"core_percent": 70, "host_cores": 16, "limit_cores": 2}),
])
def test_default_cpu_rule_stays_quiet_below_a_full_core(what: str,
                                                       shape: dict[str, float]) -> None:
    assert cpu_events(**shape) == [], what


def test_the_old_metric_missed_a_pinned_core_on_a_two_core_host() -> None:
    # What the issue measured: docker stats says 100 %, percent of all cores says 50.
    sample = cpu_sample(0, core_percent=100, host_cores=2, limit_cores=None)
    assert sample.cpu_percent == 50
