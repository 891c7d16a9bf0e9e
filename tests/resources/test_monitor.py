"""ResourceMonitor on a fake cgroup tree with injected clocks: API answers, alerts, metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from stackmedic.deployments.catalog import Catalog
from stackmedic.deployments.model import Deployment, DeploymentKind, ServiceSpec
from stackmedic.observe.containers import ContainerState
from stackmedic.observe.events import ContainerChanged
from stackmedic.recovery.exits import ExitLedger
from stackmedic.resources import (
    ContainerRef,
    ResourceMonitor,
    ResourcesConfig,
    SpikeAlert,
    SpikeRule,
)
from stackmedic.store import Database
from stackmedic.store.facts import Facts

from .fake_cgroups import FakeCgroupTree, FakeContainer

MIB = 1024 * 1024
IDS = {"web": "a" * 64, "db": "b" * 64}


class Clocks:
    """A wall clock and a monotonic clock moved together by the test."""

    def __init__(self, boot: float = 0.0) -> None:
        self.now = 1_800_000_000.0
        self.boot = boot  # where the monotonic clock started, on the wall clock

    def wall(self) -> float:
        return self.now

    def mono_ns(self) -> int:
        return int((self.now - self.boot) * 1e9)


class Harness:
    """A monitor over a fake v2 tree with two containers of deployment `shop`."""

    def __init__(
        self, tmp_path: Path, db: Database, rules: list[SpikeRule], on_oom_kill: Any = None,
        oom_kills: Any = None, clocks: Clocks | None = None,
    ) -> None:
        self.tree = FakeCgroupTree(tmp_path / "cgroup", 2, "systemd")
        self.clocks = clocks or Clocks()
        self.events: list[SpikeAlert] = []
        self.figures = {name: FakeContainer(memory_limit=100 * MIB) for name in IDS}
        for name in IDS:
            self.write(name)
        config = ResourcesConfig(
            source="cgroups", cgroup_root=tmp_path / "cgroup", rules=rules, ring_size=10
        )
        self.monitor = ResourceMonitor(
            config,
            db,
            None,
            on_alert=self.collect,
            on_oom_kill=on_oom_kill,
            oom_kills=oom_kills,
            clock=self.clocks.wall,
            monotonic_ns=self.clocks.mono_ns,
        )
        self.monitor.set_targets(
            [ContainerRef(cid, "shop", name, f"shop-{name}-1") for name, cid in IDS.items()]
        )

    async def collect(self, alert: SpikeAlert) -> None:
        self.events.append(alert)

    def write(self, name: str, **changes: Any) -> None:
        figures = self.figures[name]
        for key, value in changes.items():
            setattr(figures, key, value)
        self.tree.write(IDS[name], figures)

    async def tick(self, seconds: float = 10, *, web_cpu_percent: float = 0.0) -> None:
        """Advance the clocks; `web` burns the given share of one core meanwhile."""
        self.clocks.now += seconds
        burned = int(seconds * 1e9 * web_cpu_percent / 100)
        self.write("web", cpu_ns=self.figures["web"].cpu_ns + burned)
        await self.monitor.sample_once()


WEB_CPU = SpikeRule(
    name="web-cpu",
    metric="container_cpu_core_percent",
    threshold=90,
    clear_below=50,
    for_seconds=20,
    cooldown_seconds=0,
    services=["web"],
)


@pytest.fixture
async def harness(tmp_path: Path, db: Database) -> Any:
    h = Harness(tmp_path, db, [WEB_CPU])
    yield h
    await h.monitor.close()


async def test_current_reports_host_and_containers(harness: Harness) -> None:
    harness.write("db", usage=30 * MIB, inactive_file=5 * MIB, oom_kills=1)
    await harness.tick()
    await harness.tick(web_cpu_percent=40)
    current = harness.monitor.current()
    assert current["cgroup_version"] == 2 and current["host"]["cpu_count"] >= 1
    by_service = {c["service"]: c for c in current["containers"]}
    assert by_service["web"]["cpu_core_percent"] == pytest.approx(40.0)
    assert by_service["db"]["memory_bytes"] == 25 * MIB
    assert by_service["db"]["memory_percent"] == pytest.approx(25.0)
    assert by_service["db"]["oom_kills"] == 1
    assert by_service["db"]["source"] == "cgroups"
    assert any(d["label"] == "data" for d in current["host"]["disks"])


async def test_spike_fires_and_resolves_once_each(harness: Harness) -> None:
    await harness.tick()
    await harness.tick(web_cpu_percent=100)
    await harness.tick(web_cpu_percent=100)
    assert harness.events == []
    assert [a["state"] for a in harness.monitor.alerts("pending")] == ["pending"]
    await harness.tick(web_cpu_percent=100)
    await harness.tick(web_cpu_percent=100)
    assert [e.state for e in harness.events] == ["firing"]
    firing = harness.events[0]
    assert (firing.deployment, firing.service, firing.container_id) == ("shop", "web", IDS["web"])
    assert firing.top_consumers[0].container_id == IDS["web"]
    assert [a["rule"] for a in harness.monitor.alerts("firing")] == ["web-cpu"]
    await harness.tick(web_cpu_percent=10)  # the 20-s window averages 70: still firing
    await harness.tick(web_cpu_percent=10)  # 40, below 50: resolved
    await harness.tick(web_cpu_percent=10)
    assert [e.state for e in harness.events] == ["firing", "resolved"]
    assert harness.monitor.alerts("firing") == []
    (resolved,) = harness.monitor.alerts("resolved")
    assert resolved["rule"] == "web-cpu" and resolved["resolved_at"] == harness.clocks.now - 10
    assert len(harness.monitor.alerts()) == 1


async def test_firing_alert_survives_a_restart_without_repeating(
    harness: Harness, tmp_path: Path, db: Database
) -> None:
    for load in (0, 100, 100, 100):
        await harness.tick(web_cpu_percent=load)
    assert [e.state for e in harness.events] == ["firing"]
    await harness.monitor.close()
    again = Harness(tmp_path, db, [WEB_CPU])
    again.clocks.now = harness.clocks.now
    again.figures = harness.figures
    try:
        for load in (100, 100, 100):
            await again.tick(web_cpu_percent=load)
        assert again.events == []
        assert [a["state"] for a in again.monitor.alerts("firing")] == ["firing"]
        await again.tick(web_cpu_percent=0)
        await again.tick(web_cpu_percent=0)
        assert [e.state for e in again.events] == ["resolved"]
    finally:
        await again.monitor.close()


async def test_a_pending_spike_fires_on_time_across_a_restart(
    harness: Harness, tmp_path: Path, db: Database
) -> None:
    # `web` burns from t=20; the 20-s window is covered at t=40 whether or not the agent
    # restarted in between: the samples before the restart are read back from the store.
    for load in (0, 100):
        await harness.tick(web_cpu_percent=load)
    assert [a["state"] for a in harness.monitor.alerts("pending")] == ["pending"]
    await harness.monitor.close()
    clocks = Clocks(boot=harness.clocks.now - 5)  # a new process: its own monotonic clock
    clocks.now = harness.clocks.now
    again = Harness(tmp_path, db, [WEB_CPU], clocks=clocks)
    again.figures = harness.figures
    try:
        await again.tick(web_cpu_percent=100)  # t=30: the first CPU figure is not known yet
        assert again.events == []
        await again.tick(web_cpu_percent=100)  # t=40
        assert [(e.state, e.ts) for e in again.events] == [("firing", clocks.now)]
        assert again.events[0].since == clocks.now - 20
    finally:
        await again.monitor.close()


async def test_a_cooldown_goes_on_across_a_restart(tmp_path: Path, db: Database) -> None:
    rule = WEB_CPU.model_copy(update={"for_seconds": 0, "cooldown_seconds": 60})
    first = Harness(tmp_path, db, [rule])
    for load in (0, 100, 0):
        await first.tick(web_cpu_percent=load)
    assert [e.state for e in first.events] == ["firing", "resolved"]
    await first.monitor.close()
    again = Harness(tmp_path, db, [rule], clocks=Clocks(boot=first.clocks.now))
    again.clocks.now, again.figures = first.clocks.now, first.figures
    try:
        for load in (100, 100, 100, 100):  # t=40..70: cooling down until t=90
            await again.tick(web_cpu_percent=load)
        assert again.events == []
        await again.tick(web_cpu_percent=100)
        await again.tick(web_cpu_percent=100)
        assert [e.state for e in again.events] == ["firing"]
    finally:
        await again.monitor.close()


async def test_series_and_memory_trend(harness: Harness) -> None:
    for step in range(4):
        harness.write("db", usage=(10 + step) * MIB, inactive_file=0)
        await harness.tick()
    series = harness.monitor.series("shop", harness.clocks.now - 25)
    assert series["resolution"] == "raw"
    assert {c["service"]: len(c["points"]) for c in series["containers"]} == {"db": 3, "web": 3}
    trend = harness.monitor.memory_trend(IDS["db"])
    assert [b for _, b in trend] == [10 * MIB, 11 * MIB, 12 * MIB, 13 * MIB]
    assert len(harness.monitor.memory_trend(IDS["db"], seconds=15)) == 2
    assert harness.monitor.series("nope")["containers"] == []


async def test_prometheus_families(harness: Harness) -> None:
    assert harness.monitor.metric_families() == []
    await harness.tick()
    await harness.tick(web_cpu_percent=25)

    class Bridge(Collector):
        def collect(self) -> Any:
            return harness.monitor.metric_families()

    registry = CollectorRegistry()
    registry.register(Bridge())
    text = generate_latest(registry).decode()
    assert (
        'stackmedic_container_cpu_core_percent{container="shop-web-1",deployment="shop",'
        'service="web"} 25.0'
    ) in text
    for name in (
        "stackmedic_host_memory_bytes",
        "stackmedic_host_load",
        "stackmedic_container_memory_bytes",
        "stackmedic_container_memory_limit_bytes",
        "stackmedic_container_cpu_seconds_total",
        "stackmedic_container_oom_kills_total",
        "stackmedic_resource_sample_duration_seconds",
    ):
        assert name in text


async def test_forced_cgroups_without_a_hierarchy_samples_only_the_host(
    tmp_path: Path, db: Database
) -> None:
    config = ResourcesConfig(source="cgroups", cgroup_root=tmp_path / "none")
    monitor = ResourceMonitor(config, db, None)
    monitor.set_targets([ContainerRef("c" * 64)])
    try:
        snap = await monitor.sample_once()
        assert snap.host is not None and snap.containers == ()
    finally:
        await monitor.close()


async def test_oom_kill_in_a_running_container_is_reported_once(
    tmp_path: Path, db: Database
) -> None:
    reports: list[tuple[str, int | None, int]] = []

    async def on_oom_kill(sample: Any, trend: list[tuple[float, int]]) -> None:
        reports.append((sample.ref.service, sample.oom_kills, len(trend)))

    h = Harness(tmp_path, db, [], on_oom_kill=on_oom_kill)
    try:
        await h.tick()
        h.write("db", usage=90 * MIB, inactive_file=0, oom_kills=1)
        await h.tick()
        await h.tick()
        h.write("db", oom_kills=0)  # a restarted container starts a new counter
        await h.tick()
        assert reports == [("db", 1, 2)]
        context = h.monitor.oom_context(IDS["db"])
        assert context["memory_limit_bytes"] == 100 * MIB
        assert context["peak_memory_bytes"] == 90 * MIB
        assert len(context["trend"]) == 4
    finally:
        await h.monitor.close()


async def test_an_oom_kill_seen_by_the_cgroup_counter_reaches_the_exit_ledger(
    tmp_path: Path, db: Database
) -> None:
    # Wired as the agent wires them: the monitor reports to the ledger, and shows the
    # ledger's count (one per kill, across recreation) rather than the cgroup's own.
    catalog = Catalog(tmp_path, None, Facts(db))
    catalog.deployments["shop"] = Deployment(
        "shop", "shop", DeploymentKind.FOLDER, tmp_path, [],
        {name: ServiceSpec(name) for name in IDS})
    exits = ExitLedger(db, catalog)
    h = Harness(tmp_path, db, [], on_oom_kill=exits.on_oom_kill,
                oom_kills=lambda ref: exits.oom_kills(ref.deployment, ref.service))
    try:
        running = ContainerState(id=IDS["db"], name="shop-db-1", project="shop", service="db",
                                 status="running", started_at=h.clocks.now - 60)
        # The first sweep saw it run.
        await exits.on_container_change(ContainerChanged(None, running))
        await h.tick()
        # A process inside is OOM-killed and the container keeps running: no exit, and
        # here no engine event either; only the cgroup counter tells.
        h.write("db", oom_kills=1)
        await h.tick()
        assert exits.oom_kills("shop", "db") == 1
        assert exits.oom_kills("shop", "web") == 0
        by_service = {c["service"]: c for c in h.monitor.current()["containers"]}
        assert (by_service["db"]["oom_kills"], by_service["web"]["oom_kills"]) == (1, 0)
        await h.tick()  # the counter stays at 1: the same kill, not another one
        assert exits.oom_kills("shop", "db") == 1
        h.write("db", oom_kills=2)
        await h.tick()
        assert exits.oom_kills("shop", "db") == 2
        assert ExitLedger(db, catalog).oom_kills("shop", "db") == 2  # kept in the store
    finally:
        await h.monitor.close()


async def test_targets_from_an_async_provider(tmp_path: Path, db: Database) -> None:
    tree = FakeCgroupTree(tmp_path / "cgroup", 1, "cgroupfs")
    tree.write(IDS["web"], FakeContainer())

    async def provider() -> list[ContainerRef]:
        return [ContainerRef(IDS["web"], "shop", "web", "shop-web-1")]

    config = ResourcesConfig(source="cgroups", cgroup_root=tmp_path / "cgroup", enabled=False)
    monitor = ResourceMonitor(config, db, None, targets=provider)
    try:
        await monitor.start()  # disabled: no schedule, sampling on demand still works
        snap = await monitor.sample_once()
        assert [s.ref.service for s in snap.containers] == ["web"]
        assert monitor.stats()["samples"] == 1
    finally:
        await monitor.close()
