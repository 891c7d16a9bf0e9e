"""cAdvisor semantics: what the cgroup files and the stats API give, and how it is exposed.

The reader is run on fake cgroup trees of every layout; the exposition is parsed with
prometheus_client's own text parser, the way Prometheus reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from resources.fake_cgroups import FakeCgroupTree, FakeContainer
from resources.test_fixtures import Fixture
from stackmedic.metrics import Metrics
from stackmedic.metrics.cadvisor import CadvisorMetrics
from stackmedic.resources import ContainerRef, ContainerSample, Snapshot, detect_layout
from stackmedic.resources.cgroup_reader import CgroupReader
from stackmedic.resources.models import SampleDetail
from stackmedic.resources.stats_api import limits_from_host_config, parse_stats

from .exposition import Exposition

LAYOUTS = [(1, "cgroupfs"), (1, "systemd"), (2, "cgroupfs"), (2, "systemd")]
CID = "cd" * 32
MIB = 1024**2


def reader_for(tree: FakeCgroupTree, root: Path) -> CgroupReader:
    layout = detect_layout(root)
    assert layout is not None
    files = layout.container_files(CID)
    assert files is not None
    reader = CgroupReader(files)
    reader.open()
    return reader


@pytest.mark.parametrize(("version", "driver"), LAYOUTS)
def test_reader_gives_cadvisor_memory_figures_and_cgroup_path(
    tmp_path: Path, version: Literal[1, 2], driver: Literal["cgroupfs", "systemd"]
) -> None:
    tree = FakeCgroupTree(tmp_path, version, driver)
    rss, cache = ("total_rss 30000000", "total_cache 9000000") if version == 1 else (
        "anon 30000000", "file 9000000")
    # v1 also has the non-hierarchical keys; the totals are what cAdvisor reads.
    extra = [rss, cache, "rss 1", "cache 2"] if version == 1 else []
    tree.write(CID, FakeContainer(usage=50 * MIB, inactive_file=8 * MIB, extra_stat_lines=extra))
    if version == 2:  # the fake's v2 memory.stat has its own anon/file lines: replace them
        stat = tmp_path / tree._rel(CID) / "memory.stat"
        stat.write_text(f"{rss}\n{cache}\ninactive_file {8 * MIB}\n")
    reader = reader_for(tree, tmp_path)
    try:
        counters = reader.read()
        assert counters.usage_bytes == 50 * MIB
        assert counters.working_set_bytes == 42 * MIB
        assert (counters.rss_bytes, counters.cache_bytes) == (30_000_000, 9_000_000)
        expected = f"/docker/{CID}" if driver == "cgroupfs" else (
            f"/system.slice/docker-{CID}.scope")
        assert reader.files.cgroup_path == expected
        tree.write(CID, FakeContainer(usage=4 * MIB, inactive_file=8 * MIB,
                                      extra_stat_lines=extra))
        if version == 2:
            (tmp_path / tree._rel(CID) / "memory.stat").write_text(f"inactive_file {8 * MIB}\n")
        assert reader.read().working_set_bytes == 0  # inactive above usage: 0, as cAdvisor
    finally:
        reader.close()


@pytest.mark.parametrize(("version", "driver"), LAYOUTS)
def test_quota_period_and_throttling(
    tmp_path: Path, version: Literal[1, 2], driver: Literal["cgroupfs", "systemd"]
) -> None:
    tree = FakeCgroupTree(tmp_path, version, driver)
    tree.write(CID, FakeContainer(cpu_quota_us=50_000, cpu_period_us=100_000))
    cpu_dir = "cpu" if driver == "cgroupfs" else "cpu,cpuacct"
    if version == 1:
        (tmp_path / cpu_dir / tree._rel(CID) / "cpu.stat").write_text(
            "nr_periods 40\nnr_throttled 12\nthrottled_time 2500000000\n"
        )
    else:
        (tmp_path / tree._rel(CID) / "cpu.stat").write_text(
            "usage_usec 7\nnr_periods 40\nnr_throttled 12\nthrottled_usec 2500000\n"
        )
    reader = reader_for(tree, tmp_path)
    try:
        assert reader.read().throttled_ns == 2_500_000_000
        limits = reader.read_limits()
        assert (limits.cpu_quota_us, limits.cpu_period_us) == (50_000, 100_000)
    finally:
        reader.close()
    tree.write(CID, FakeContainer(cpu_quota_us=None))
    if version == 2:  # no cpu controller: no throttling keys at all
        (tmp_path / tree._rel(CID) / "cpu.stat").write_text("usage_usec 7\n")
    reader = reader_for(tree, tmp_path)
    try:
        limits = reader.read_limits()
        assert (limits.cpu_quota_us, limits.cpu_period_us) == (None, 100_000)
        if version == 2:
            assert reader.read().throttled_ns is None
    finally:
        reader.close()


@pytest.mark.parametrize(
    ("memory_stats", "working_set", "rss", "cache"),
    [
        ({"usage": 50, "stats": {"total_inactive_file": 8, "total_rss": 30, "total_cache": 9,
                                 "rss": 1, "cache": 2}}, 42, 30, 9),
        ({"usage": 50, "stats": {"inactive_file": 8, "anon": 31, "file": 10}}, 42, 31, 10),
        ({"usage": 5, "stats": {"inactive_file": 8, "anon": 3, "file": 9}}, 0, 3, 9),
    ],
)
def test_stats_api_fallback_gives_the_same_figures(
    memory_stats: dict[str, Any], working_set: int, rss: int, cache: int
) -> None:
    reading = parse_stats({
        "read": "2026-01-01T00:00:01.123456789Z",
        "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000},
                      "throttling_data": {"throttled_time": 400_000_000}},
        "memory_stats": {**memory_stats, "limit": 100},
    })
    assert reading is not None
    assert (reading.usage_bytes, reading.working_set_bytes) == (memory_stats["usage"], working_set)
    assert (reading.rss_bytes, reading.cache_bytes) == (rss, cache)
    assert reading.throttled_ns == 400_000_000
    assert reading.read_at == pytest.approx(1767225601.123456)


@pytest.mark.parametrize(
    ("host_config", "quota", "period", "memory"),
    [
        ({"NanoCpus": 500_000_000, "Memory": 64 * MIB}, 50_000, 100_000, 64 * MIB),
        ({"CpuQuota": 25_000, "CpuPeriod": 50_000}, 25_000, 50_000, None),
        ({}, None, 100_000, None),
    ],
)
def test_stats_api_limits_as_the_cgroup_shows_them(
    host_config: dict[str, Any], quota: int | None, period: int, memory: int | None
) -> None:
    limits = limits_from_host_config(host_config)
    assert (limits.cpu_quota_us, limits.cpu_period_us, limits.memory_bytes) == (
        quota, period, memory)


@dataclass
class Facts:
    name: str
    image: str
    started_at: float | None
    labels: dict[str, str] = field(default_factory=dict)


def sample(cid: str, detail: SampleDetail | None, ts: float = 1_800_000_000.25) -> ContainerSample:
    return ContainerSample(
        ts=ts, ref=ContainerRef(cid, "shop", "web", f"shop-{cid}"), source="cgroups",
        cpu_core_percent=None, cpu_percent=None, cpu_limit_cores=2.0, cpu_usage_seconds=12.5,
        memory_bytes=1, memory_limit_bytes=2, memory_percent=50.0, oom_kills=0, detail=detail,
    )


def detail(**overrides: Any) -> SampleDetail:
    values: dict[str, Any] = {
        "usage_bytes": 60 * MIB, "working_set_bytes": 40 * MIB, "rss_bytes": 30 * MIB,
        "cache_bytes": 20 * MIB, "throttled_seconds": 1.5, "cpu_quota_us": 50_000,
        "cpu_period_us": 100_000, "memory_limit_bytes": 128 * MIB,
        "cgroup_path": "/docker/" + "a" * 64,
    }
    return SampleDetail(**{**values, **overrides})


def exposition(samples: list[ContainerSample], facts: dict[str, Facts]) -> Exposition:
    snapshot = Snapshot(ts=1_800_000_000.0, host=None, containers=tuple(samples))
    source = CadvisorMetrics(lambda: snapshot, facts.get)
    return Exposition(Metrics([source], host="h1").render().decode())


def test_families_have_cadvisor_names_types_and_labels() -> None:
    compose = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web",
               "com.docker.compose.container-number": "1"}
    exp = exposition(
        [sample("a", detail())],
        {"a": Facts("shop-web-1", "nginx:1.27", 1_799_999_000.0, compose)},
    )
    cpu = exp.one("container_cpu_usage_seconds_total", cpu="total")
    assert cpu.labels == {
        "host": "h1", "id": "/docker/" + "a" * 64, "name": "shop-web-1", "image": "nginx:1.27",
        "container_label_com_docker_compose_project": "shop",
        "container_label_com_docker_compose_service": "web",
        "container_label_com_docker_compose_container_number": "1", "cpu": "total",
    }
    assert cpu.value == 12.5
    assert cpu.timestamp is not None and float(cpu.timestamp) == pytest.approx(1_800_000_000.25)
    assert exp.type_of("container_cpu_usage_seconds") == "counter"
    assert exp.type_of("container_cpu_cfs_throttled_seconds") == "counter"
    assert exp.value("container_cpu_cfs_throttled_seconds_total") == 1.5
    expected = {
        "container_memory_working_set_bytes": 40 * MIB,
        "container_memory_usage_bytes": 60 * MIB,
        "container_memory_rss": 30 * MIB,
        "container_memory_cache": 20 * MIB,
        "container_spec_memory_limit_bytes": 128 * MIB,
        "container_spec_cpu_quota": 50_000,
        "container_spec_cpu_period": 100_000,
        "container_last_seen": 1_800_000_000,
        "container_start_time_seconds": 1_799_999_000.0,
    }
    for name, value in expected.items():
        assert exp.type_of(name) == "gauge", name
        assert exp.value(name, name="shop-web-1", host="h1") == value, name


def test_unlimited_container_reads_as_cadvisor_shows_it() -> None:
    unlimited = detail(cpu_quota_us=None, memory_limit_bytes=None, throttled_seconds=0.0)
    exp = exposition([sample("b", unlimited)], {})
    assert exp.value("container_spec_memory_limit_bytes") == 0
    assert exp.value("container_spec_cpu_period") == 100_000
    assert not exp.samples("container_spec_cpu_quota")
    assert not exp.samples("container_cpu_cfs_throttled_seconds_total")
    assert not exp.samples("container_start_time_seconds")  # start unknown: no series
    cpu = exp.one("container_cpu_usage_seconds_total")
    assert cpu.labels["name"] == "shop-b" and cpu.labels["image"] == ""


def test_stats_api_read_time_is_the_sample_time() -> None:
    exp = exposition([sample("c", detail(read_at=1_800_000_003.5))], {})
    cpu = exp.one("container_cpu_usage_seconds_total")
    assert cpu.timestamp is not None and float(cpu.timestamp) == pytest.approx(1_800_000_003.5)


def test_nothing_before_the_first_sample() -> None:
    source = CadvisorMetrics(lambda: None, lambda cid: None)
    assert source.metric_families() == []


FIXTURE_NAMES = [
    "cgroup1-cgroupfs-docker", "cgroup1-cgroupfs-podman", "cgroup2-systemd-docker",
    "cgroup2-cgroupfs-docker", "cgroup2-rootless-docker", "cgroup2-systemd-podman",
    "cgroup2-rootless-podman",
]


def stat_values(path: Path) -> dict[str, int]:
    pairs = (line.split() for line in path.read_text().splitlines() if line.strip())
    return {key: int(value) for key, value in pairs}


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_recorded_and_constructed_trees_give_cadvisor_figures(name: str) -> None:
    """The cgroup trees of tests/resources/fixtures: figures as cAdvisor computes them."""
    fixture = Fixture(name)
    files = fixture.layout().container_files(fixture.container_id)
    assert files is not None
    expected = fixture.meta["expected"]
    stat = stat_values(files.memory_stat)
    v1 = files.version == 1
    reader = CgroupReader(files)
    reader.open()
    try:
        counters = reader.read()
    finally:
        reader.close()
    inactive = stat["total_inactive_file" if v1 else "inactive_file"]
    assert counters.usage_bytes == expected["memory_usage_bytes"]
    assert counters.working_set_bytes == max(0, expected["memory_usage_bytes"] - inactive)
    assert counters.rss_bytes == stat["total_rss" if v1 else "anon"]
    assert counters.cache_bytes == stat["total_cache" if v1 else "file"]
    assert files.cgroup_path == "/" + fixture.meta["container"]["cgroup"]
    cpu_stat = files.cpu_stat if v1 else files.cpu_usage
    throttled = stat_values(cpu_stat) if cpu_stat is not None and cpu_stat.is_file() else {}
    key, scale = ("throttled_time", 1) if v1 else ("throttled_usec", 1000)
    assert counters.throttled_ns == (throttled[key] * scale if key in throttled else None)
