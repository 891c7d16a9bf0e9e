"""The spike-rule state machine on windowed values, driven by snapshots on an injected clock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stackmedic.resources import RuleEngine, SpikeAlert, SpikeRule

from .samples import container, host, snapshot


def cpu_rule(**overrides: object) -> SpikeRule:
    fields: dict[str, object] = {
        "name": "cpu",
        "metric": "container_cpu_percent",
        "threshold": 90,
        "clear_below": 80,
        "for_seconds": 5,
        "cooldown_seconds": 0,
    }
    fields.update(overrides)
    return SpikeRule.model_validate(fields)


def run(engine: RuleEngine, values: list[tuple[float, float | None]]) -> list[SpikeAlert]:
    """Feed one container's CPU values at the given times; return every event."""
    events: list[SpikeAlert] = []
    for ts, value in values:
        events += engine.evaluate(snapshot(ts, container(ts, cpu=value)))
    return events


def test_burst_shorter_than_for_does_not_fire() -> None:
    engine = RuleEngine([cpu_rule()])
    events = run(engine, [(0, 10), (1, 95), (2, 99), (3, 97), (4, 20), (5, 10), (20, 10)])
    assert events == []
    assert engine.active() == []


def test_pending_is_visible_but_not_reported() -> None:
    engine = RuleEngine([cpu_rule()])
    assert run(engine, [(0, 95), (2, 96)]) == []
    (pending,) = engine.active()  # above, but the samples reach back 2 s of the 5
    assert (pending.state, pending.since, pending.value) == ("pending", 0, 95.5)


def test_sustained_spike_fires_once_then_resolves_once_below_clear() -> None:
    engine = RuleEngine([cpu_rule()])
    high = [(float(t), 95.0) for t in range(11)]
    between = [(11.0, 85.0), (12.0, 89.0), (13.0, 80.0), (14.0, 79.0)]
    low = [(15.0, 5.0), (16.0, 0.0)]
    events = run(engine, high + between + low)
    # At 14 the 5-s window [9, 14] still averages 87.2; at 15, [10, 15] averages 72.2.
    assert [(e.state, e.ts) for e in events] == [("firing", 5.0), ("resolved", 15.0)]
    firing, resolved = events
    assert firing.since == 0 and firing.fired_at == 5 and firing.value == 95
    assert (firing.threshold, firing.clear_below) == (90, 80)
    assert (firing.aggregate, firing.window_seconds, firing.samples) == ("avg", 5, 6)
    assert (firing.deployment, firing.service, firing.container_id) == ("shop", "web", "c1")
    assert resolved.resolved_at == 15 and resolved.fired_at == 5
    assert resolved.value == pytest.approx((95 + 85 + 89 + 80 + 79 + 5) / 6)
    assert engine.active() == []


def test_value_between_clear_and_threshold_keeps_firing() -> None:
    engine = RuleEngine([cpu_rule(for_seconds=0)])
    events = run(engine, [(0, 95), (1, 85), (2, 81), (3, 88)])
    assert [e.state for e in events] == ["firing"]
    assert [a.state for a in engine.active()] == ["firing"]


def test_without_hysteresis_clears_below_threshold() -> None:
    engine = RuleEngine([cpu_rule(for_seconds=0, clear_below=None)])
    events = run(engine, [(0, 95), (1, 89.9)])
    assert [e.state for e in events] == ["firing", "resolved"]


def test_a_dip_counts_in_the_average_until_it_leaves_the_window() -> None:
    engine = RuleEngine([cpu_rule()])
    events = run(engine, [(0, 95), (4, 95), (4.5, 50), (5, 95), (9, 95), (10, 95)])
    assert [(e.state, e.since, e.ts) for e in events] == [("firing", 5, 10)]


def test_cooldown_holds_back_a_new_firing() -> None:
    engine = RuleEngine([cpu_rule(for_seconds=0, cooldown_seconds=60)])
    events = run(engine, [(0, 95), (1, 10), (30, 95), (59, 95), (61, 95)])
    assert [(e.state, e.ts) for e in events] == [
        ("firing", 0),
        ("resolved", 1),
        ("firing", 61),
    ]


def test_unknown_value_changes_nothing() -> None:
    engine = RuleEngine([cpu_rule(for_seconds=0)])
    events = run(engine, [(0, 95), (1, None), (2, None)])
    assert [e.state for e in events] == ["firing"]
    assert [a.state for a in engine.active()] == ["firing"]


def test_gone_container_resolves_firing_and_drops_pending() -> None:
    engine = RuleEngine([cpu_rule(for_seconds=0), cpu_rule(name="slow", for_seconds=60)])
    engine.evaluate(snapshot(0, container(0, cpu=95)))
    assert {(a.rule, a.state) for a in engine.active()} == {("cpu", "firing"), ("slow", "pending")}
    events = engine.evaluate(snapshot(1))
    assert [(e.rule, e.state, e.reason) for e in events] == [("cpu", "resolved", "container gone")]
    assert engine.active() == []


def test_scope_by_deployment_service_and_exclusions() -> None:
    rules = [
        cpu_rule(name="all", for_seconds=0),
        cpu_rule(name="shop-only", for_seconds=0, deployments=["shop"]),
        cpu_rule(name="db-anywhere", for_seconds=0, services=["db"]),
        cpu_rule(name="not-blog", for_seconds=0, exclude_deployments=["blog"]),
    ]
    engine = RuleEngine(rules)
    snap = snapshot(
        0,
        container(0, "a", cpu=95, deployment="shop", service="web"),
        container(0, "b", cpu=95, deployment="blog", service="db"),
    )
    fired = {(e.rule, e.container_id) for e in engine.evaluate(snap)}
    assert fired == {
        ("all", "a"),
        ("all", "b"),
        ("shop-only", "a"),
        ("db-anywhere", "b"),
        ("not-blog", "a"),
    }


def test_firing_carries_top_five_consumers() -> None:
    rule = SpikeRule(name="mem", metric="container_memory_percent", threshold=90, for_seconds=0)
    engine = RuleEngine([rule])
    samples = [container(0, f"c{i}", memory_percent=10 + i * 11) for i in range(9)]
    (event,) = engine.evaluate(snapshot(0, *samples))
    assert event.container_id == "c8"
    assert [c.container_id for c in event.top_consumers] == ["c8", "c7", "c6", "c5", "c4"]
    assert all(c.unit == "bytes" for c in event.top_consumers)


def test_host_memory_and_each_disk_are_subjects() -> None:
    rules = [
        SpikeRule(name="hostmem", metric="host_memory_percent", threshold=90, for_seconds=2),
        SpikeRule(name="disk", metric="host_disk_percent", threshold=90, clear_below=85),
    ]
    engine = RuleEngine(rules)
    busy = container(0, "big", memory_percent=50)
    disks = {"data": 95.0, "docker": 50.0}
    events = engine.evaluate(snapshot(0, busy, host_sample=host(0, memory_percent=95, disks=disks)))
    assert [(e.rule, e.subject) for e in events] == [("disk", "disk:data")]
    assert events[0].top_consumers == ()
    events = engine.evaluate(snapshot(2, busy, host_sample=host(2, memory_percent=96, disks=disks)))
    assert [(e.rule, e.subject, e.state) for e in events] == [("hostmem", "host", "firing")]
    assert [c.container_id for c in events[0].top_consumers] == ["big"]
    calm = host(3, memory_percent=10, disks={"data": 80.0, "docker": 50.0})
    events = engine.evaluate(snapshot(3, busy, host_sample=calm))
    assert [(e.rule, e.state) for e in events] == [("hostmem", "resolved"), ("disk", "resolved")]


def test_restored_firing_alert_is_not_reported_again() -> None:
    engine = RuleEngine([cpu_rule(for_seconds=0)])
    (firing,) = run(engine, [(0, 95)])
    restarted = RuleEngine([cpu_rule(for_seconds=0)])
    restarted.restore([firing])
    assert run(restarted, [(10, 96)]) == []
    assert [e.state for e in run(restarted, [(11, 5)])] == ["resolved"]


def run_stepped(engine: RuleEngine, values: list[tuple[float, float, float]]) -> list[SpikeAlert]:
    """Feed CPU values as (monotonic seconds, wall-clock step so far, value)."""
    events: list[SpikeAlert] = []
    for mono, step, value in values:
        ts = 1_800_000_000.0 + mono + step
        shot = snapshot(ts, container(ts, cpu=value))
        events += engine.evaluate(replace(shot, mono=mono))
    return events


@pytest.mark.parametrize("step", [-3600.0, 3600.0], ids=["back", "forward"])
def test_a_wall_clock_step_neither_delays_nor_hastens_a_spike(step: float) -> None:
    # NTP sets the clock an hour back or forward while a spike is pending.
    engine = RuleEngine([cpu_rule(for_seconds=60)])
    events = run_stepped(engine, [(0, 0, 95), (10, step, 96), (59, step, 97)])
    assert events == []  # not yet: 59 s of the 60 have passed
    [fired] = run_stepped(engine, [(60, step, 98)])
    assert fired.state == "firing"
    assert fired.ts == 1_800_000_000.0 + 60 + step  # shown in the wall time of the moment


@pytest.mark.parametrize("step", [-3600.0, 3600.0], ids=["back", "forward"])
def test_a_wall_clock_step_does_not_stretch_or_cut_the_cooldown(step: float) -> None:
    engine = RuleEngine([cpu_rule(for_seconds=0, cooldown_seconds=30)])
    [fired, resolved] = run_stepped(engine, [(0, 0, 95), (1, 0, 10)])
    assert (fired.state, resolved.state) == ("firing", "resolved")
    assert run_stepped(engine, [(20, step, 95)]) == []  # still cooling down
    assert run_stepped(engine, [(25, step, 10)]) == []
    [again] = run_stepped(engine, [(32, step, 95)])
    assert again.state == "firing"
