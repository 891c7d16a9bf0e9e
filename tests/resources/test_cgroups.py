"""Layout detection and cgroup file reading on fake trees of every layout."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from stackmedic.resources import ContainerRef, detect_layout
from stackmedic.resources.cgroup_paths import rootless_uid
from stackmedic.resources.cgroup_reader import CgroupReader, field_value
from stackmedic.resources.cgroups import CgroupLayout, count_cpus
from stackmedic.resources.sampler import ContainerSampler, HostShape

from .fake_cgroups import FakeCgroupTree, FakeContainer

LAYOUTS = [(1, "cgroupfs"), (1, "systemd"), (2, "cgroupfs"), (2, "systemd")]
CID = "ab" * 32
GIB = 1024**3


@pytest.mark.parametrize(("version", "driver"), LAYOUTS)
def test_layout_detection_and_counters(
    tmp_path: Path, version: Literal[1, 2], driver: Literal["cgroupfs", "systemd"]
) -> None:
    tree = FakeCgroupTree(tmp_path, version, driver)
    tree.write(CID, FakeContainer(cpu_ns=7_000_000_000, usage=50_000_000, inactive_file=8_000_000))
    layout = detect_layout(tmp_path)
    assert layout is not None and layout.version == version
    files = layout.container_files(CID)
    assert files is not None
    reader = CgroupReader(files)
    reader.open()
    try:
        counters = reader.read()
        assert counters.cpu_ns == 7_000_000_000
        assert counters.memory_bytes == 42_000_000
        assert counters.oom_kills == 0
        tree.write(CID, FakeContainer(cpu_ns=9_000_000_000, usage=60_000_000, oom_kills=2))
        counters = reader.read()
        assert (counters.cpu_ns, counters.memory_bytes, counters.oom_kills) == (
            9_000_000_000,
            58_000_000,
            2,
        )
    finally:
        reader.close()


@pytest.mark.parametrize(("version", "driver"), LAYOUTS)
def test_limits(
    tmp_path: Path, version: Literal[1, 2], driver: Literal["cgroupfs", "systemd"]
) -> None:
    tree = FakeCgroupTree(tmp_path, version, driver)
    layout = detect_layout(tmp_path, driver)
    assert layout is not None and layout.driver == driver
    tree.write(CID, FakeContainer())
    files = layout.container_files(CID)
    assert files is not None
    unlimited = CgroupReader(files).read_limits()
    assert (unlimited.cpu_cores, unlimited.memory_bytes) == (4.0, None)
    tree.write(CID, FakeContainer(memory_limit=GIB, cpu_quota_us=150_000))
    limited = CgroupReader(files).read_limits()
    assert (limited.cpu_cores, limited.memory_bytes) == (1.5, GIB)
    tree.write(CID, FakeContainer(cpu_quota_us=300_000, cpuset="2"))
    assert CgroupReader(files).read_limits().cpu_cores == 1.0


def test_no_hierarchy_means_no_layout(tmp_path: Path) -> None:
    assert detect_layout(tmp_path) is None
    assert detect_layout(tmp_path / "missing") is None


def test_unknown_container_has_no_files(tmp_path: Path) -> None:
    FakeCgroupTree(tmp_path, 2, "systemd")
    layout = detect_layout(tmp_path)
    assert layout is not None and layout.container_files("f" * 64) is None


def test_this_host_layout_is_detected() -> None:
    layout = detect_layout(Path("/sys/fs/cgroup"))
    assert layout is not None and layout.version in (1, 2)


def test_field_value_matches_whole_keys_only() -> None:
    stat = b"inactive_file 5\ntotal_inactive_file 7\nfile 9\n"
    assert field_value(stat, b"total_inactive_file ") == 7
    assert field_value(stat, b"inactive_file ") == 5
    assert field_value(stat, b"file ") == 9
    assert field_value(stat, b"missing ") == 0
    assert field_value(b"oom_kill 3", b"oom_kill ") == 3


def test_count_cpus() -> None:
    assert count_cpus("0-3,8,10-11\n") == 7
    assert count_cpus("") == 0


async def test_sampler_cpu_percent_from_deltas(tmp_path: Path) -> None:
    tree = FakeCgroupTree(tmp_path, 2, "cgroupfs")
    tree.write(CID, FakeContainer(cpu_ns=0, cpu_quota_us=50_000))
    now = [0]
    sampler = ContainerSampler(
        layout=detect_layout(tmp_path), stats_api=None, monotonic_ns=lambda: now[0]
    )
    shape = HostShape(cpu_count=4, memory_total_bytes=4 * GIB)
    ref = ContainerRef(CID, "shop", "web", "shop-web-1")
    try:
        (first,) = await sampler.sample([ref], 0.0, shape)
        assert first.cpu_core_percent is None and first.cpu_limit_cores == 0.5
        assert first.memory_limit_bytes == 4 * GIB
        tree.write(CID, FakeContainer(cpu_ns=5_000_000_000, cpu_quota_us=50_000))
        now[0] = 10_000_000_000
        (second,) = await sampler.sample([ref], 10.0, shape)
        assert second.cpu_core_percent == pytest.approx(50.0)
        assert second.cpu_percent == pytest.approx(100.0)
        assert second.source == "cgroups" and second.ref == ref
        assert await sampler.sample([], 20.0, shape) == []
        assert sampler.sources() == {}
    finally:
        sampler.close()


def test_rootless_user_is_read_from_the_engine_socket_path() -> None:
    assert rootless_uid("unix:///run/user/1000/docker.sock") == 1000
    assert rootless_uid("unix:///run/user/1001/podman/podman.sock") == 1001


def test_the_engine_own_layout_is_looked_for_first(tmp_path: Path) -> None:
    layout = CgroupLayout(2, tmp_path)
    assert layout.expected_pattern == f"{tmp_path}/system.slice/docker-<id>.scope"
    podman = layout.with_driver("cgroupfs").for_engine("podman", rootless=False)
    assert podman.expected_pattern == f"{tmp_path}/libpod_parent/libpod-<id>"
    rootless = layout.with_driver("systemd").for_engine("podman", rootless=True, uid=1000)
    assert rootless.expected_pattern == (
        f"{tmp_path}/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-<id>.scope"
    )


async def test_a_new_layout_after_a_reconnect_reopens_the_files(tmp_path: Path) -> None:
    """An engine that comes back with another driver: the sampler looks in the new place."""
    old, new = tmp_path / "old", tmp_path / "new"
    FakeCgroupTree(old, 2, "cgroupfs").write(CID, FakeContainer(usage=10_000_000))
    FakeCgroupTree(new, 2, "systemd").write(CID, FakeContainer(usage=30_000_000))
    sampler = ContainerSampler(layout=detect_layout(old, "cgroupfs"), stats_api=None)
    shape = HostShape(cpu_count=4, memory_total_bytes=4 * GIB)
    ref = ContainerRef(CID, "shop", "web", "shop-web-1")
    try:
        (first,) = await sampler.sample([ref], 0.0, shape)
        sampler.set_layout(detect_layout(new, "systemd"))
        (second,) = await sampler.sample([ref], 1.0, shape)
    finally:
        sampler.close()
    assert (first.memory_bytes, second.memory_bytes) == (8_000_000, 28_000_000)


@pytest.mark.parametrize(("child", "expected"), [
    # Seen in the cgroup v2 VM (Podman 4.3, crun, systemd driver): the scope says `max`,
    # the `container` child its processes sit in holds the limits.
    ({"memory.max": "100663296", "cpu.max": "50000 100000", "cpuset.cpus.effective": "0"},
     (0.5, 100663296, 50_000)),
    ({}, (1.5, GIB, 150_000)),  # no controller files in the child: the scope's
    ({"memory.max": "max", "cpu.max": "max 100000"}, (1.5, GIB, 150_000)),
])
def test_limits_in_the_child_podman_puts_processes_in(
    tmp_path: Path, child: dict[str, str], expected: tuple[float, int, int]
) -> None:
    tree = FakeCgroupTree(tmp_path, 2, "systemd")
    tree.write(CID, FakeContainer(memory_limit=GIB, cpu_quota_us=150_000))
    inner = tmp_path / f"system.slice/docker-{CID}.scope/container"
    inner.mkdir()
    for name, text in child.items():
        (inner / name).write_text(f"{text}\n")
    layout = detect_layout(tmp_path, "systemd")
    assert layout is not None
    files = layout.container_files(CID)
    assert files is not None and files.inner == inner
    limits = CgroupReader(files).read_limits()
    assert (limits.cpu_cores, limits.memory_bytes, limits.cpu_quota_us) == expected
