"""The figures cAdvisor exports beyond the summary: read from cgroup trees of both versions,
/proc/net/dev, the stats API and a walked directory, and exposed under cAdvisor's names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import pytest

from resources.fake_cgroups import FakeCgroupTree, FakeContainer
from resources.test_fixtures import Fixture
from stackmedic.metrics import Metrics
from stackmedic.metrics.cadvisor import CadvisorMetrics
from stackmedic.metrics.cadvisor_extra import ContainerExtras, FixedExtras, RootExtras
from stackmedic.metrics.cadvisor_labels import LabelAllowList, label_name
from stackmedic.metrics.config import MetricsConfig
from stackmedic.resources import Snapshot, detect_layout
from stackmedic.resources.cgroup_extra import DeviceIo, ExtraCgroupFiles, ExtraCounters
from stackmedic.resources.fs_usage import (
    BudgetExceeded,
    FsUsage,
    block_device_name,
    filesystem_usage,
    mount_devices,
    walk_usage,
)
from stackmedic.resources.models import HostSample
from stackmedic.resources.netdev import InterfaceStats, from_stats_api, parse_net_dev
from stackmedic.resources.root_cgroup import RootReading, read_root
from stackmedic.resources.stats_api import counters_from_stats

from .exposition import Exposition
from .test_cadvisor import Facts, detail, sample

CID = "cd" * 32
TICKS = os.sysconf("SC_CLK_TCK")
NET_DEV = b"""Inter-|   Receive |  Transmit
 face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo ...
    lo: 136435 355 0 0 0 0 0 0 136435 355 0 0 0 0 0 0
  eth0: 880745564 19768 3 4 0 0 0 0 1095374 13113 5 6 0 0 0 0
vethab12: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0
docker0: 0 0 0 0 0 0 0 0 526 5 0 2 0 0 0 0
"""


def write_extras(tree: FakeCgroupTree, root: Path) -> None:
    """The extra files of the fake container, in its version's names and units."""
    rel = tree._rel(CID)
    if tree.version == 2:
        base = root / rel
        (base / "cpu.stat").write_text(
            "usage_usec 9000000\nuser_usec 6000000\nsystem_usec 3000000\n"
            "nr_periods 40\nnr_throttled 12\nthrottled_usec 2500000\n")
        (base / "memory.swap.current").write_text("4096\n")
        (base / "memory.peak").write_text("9000\n")
        stat = base / "memory.stat"
        stat.write_text(stat.read_text() + "file_mapped 777\n")
        (base / "io.stat").write_text("254:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0\n"
                                      "8:0 rbytes=5 wbytes=6 rios=1 wios=1 dbytes=0\n")
        return
    cpu = "cpu" if tree.driver == "cgroupfs" else "cpu,cpuacct"
    acct = "cpuacct" if tree.driver == "cgroupfs" else "cpu,cpuacct"
    (root / acct / rel / "cpuacct.stat").write_text(f"user {6 * TICKS}\nsystem {3 * TICKS}\n")
    (root / cpu / rel / "cpu.stat").write_text(
        "nr_periods 40\nnr_throttled 12\nthrottled_time 2500000000\n")
    stat = root / "memory" / rel / "memory.stat"
    stat.write_text(stat.read_text() + "swap 1\ntotal_swap 4096\nmapped_file 1\n"
                    "total_mapped_file 777\n")
    (root / "memory" / rel / "memory.max_usage_in_bytes").write_text("9000\n")
    (root / "memory" / rel / "memory.failcnt").write_text("3\n")
    blkio = root / "blkio" / rel
    blkio.mkdir(parents=True)
    (blkio / "blkio.throttle.io_service_bytes_recursive").write_text(
        "254:0 Read 1000\n254:0 Write 2000\n254:0 Sync 3000\n254:0 Total 3000\n"
        "8:0 Read 5\n8:0 Write 6\nTotal 3011\n")


@pytest.mark.parametrize(("version", "driver"),
                         [(1, "cgroupfs"), (1, "systemd"), (2, "cgroupfs"), (2, "systemd")])
def test_extra_cgroup_figures_of_both_versions(
    tmp_path: Path, version: Literal[1, 2], driver: Literal["cgroupfs", "systemd"]
) -> None:
    tree = FakeCgroupTree(tmp_path, version, driver)
    tree.write(CID, FakeContainer())
    write_extras(tree, tmp_path)
    layout = detect_layout(tmp_path)
    assert layout is not None
    files = layout.container_files(CID)
    assert files is not None
    counters = ExtraCgroupFiles(layout, files.cgroup_path).read()
    assert counters == ExtraCounters(
        cpu_user_seconds=pytest.approx(6.0), cpu_system_seconds=pytest.approx(3.0),
        cfs_periods=40, cfs_throttled_periods=12, swap_bytes=4096,
        failcnt=3,  # v2: memory.events "max" (the fake writes 3), v1: memory.failcnt
        io=(DeviceIo(8, 0, 5, 6), DeviceIo(254, 0, 1000, 2000)),
        max_usage_bytes=9000, mapped_file_bytes=777,
    )


@pytest.mark.parametrize("name", ["cgroup1-cgroupfs-docker", "cgroup2-systemd-docker",
                                  "cgroup2-cgroupfs-docker", "cgroup2-rootless-docker",
                                  "cgroup2-systemd-podman", "cgroup2-core-docker"])
def test_fixture_trees_give_what_their_files_say(name: str) -> None:
    fixture = Fixture(name)
    layout = fixture.layout()
    files = layout.locate(fixture.container_id)
    assert files is not None
    counters = ExtraCgroupFiles(layout, files.cgroup_path).read()
    base = layout.root / files.cgroup_path.strip("/")
    cpu = dict(line.split() for line in (base / "cpu.stat").read_text().splitlines()) if (
        layout.version == 2) else {}
    if "user_usec" in cpu:
        assert counters.cpu_user_seconds == pytest.approx(int(cpu["user_usec"]) / 1e6)
        assert counters.cpu_system_seconds == pytest.approx(int(cpu["system_usec"]) / 1e6)
    else:  # no cpuacct.stat / user_usec recorded: no series rather than a made-up 0
        assert counters.cpu_user_seconds is None
    periods = cpu.get("nr_periods")
    assert counters.cfs_periods == (int(periods) if periods else None)
    assert counters.io == ()  # none of the trees holds io.stat or blkio files


def test_root_cgroup_of_a_v1_tree(tmp_path: Path) -> None:
    tree = FakeCgroupTree(tmp_path, 1, "cgroupfs")
    (tmp_path / "cpuacct" / "cpuacct.usage").write_text("5000000000\n")
    (tmp_path / "cpuacct" / "cpuacct.stat").write_text(f"user {4 * TICKS}\nsystem {TICKS}\n")
    (tmp_path / "memory" / "memory.usage_in_bytes").write_text("1000\n")
    (tmp_path / "memory" / "memory.stat").write_text(
        "total_rss 300\ntotal_cache 600\ntotal_inactive_file 400\n")
    assert tree.version == 1
    layout = detect_layout(tmp_path)
    assert layout is not None
    root = read_root(layout)
    assert (root.cpu_seconds, root.usage_bytes, root.working_set_bytes) == (5.0, 1000, 600)
    assert (root.rss_bytes, root.cache_bytes) == (300, 600)
    assert root.extra.cpu_user_seconds == pytest.approx(4.0)


def test_root_cgroup_of_a_v2_tree_takes_usage_from_meminfo(tmp_path: Path) -> None:
    FakeCgroupTree(tmp_path, 2, "cgroupfs")
    (tmp_path / "cpu.stat").write_text("usage_usec 7000000\nuser_usec 5000000\n")
    (tmp_path / "memory.stat").write_text("anon 300\nfile 600\ninactive_file 400\n")
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        8 kB\nMemFree:         3 kB\nMemAvailable:    6 kB\n")
    layout = detect_layout(tmp_path)
    assert layout is not None
    root = read_root(layout, meminfo)
    assert (root.cpu_seconds, root.usage_bytes, root.working_set_bytes) == (7.0, 5120, 4720)
    assert root.extra.cpu_system_seconds is None


def test_net_dev_leaves_out_loopback_and_host_side_links() -> None:
    [eth0] = parse_net_dev(NET_DEV)
    assert eth0 == InterfaceStats("eth0", 880745564, 19768, 3, 4, 1095374, 13113, 5, 6)
    api = from_stats_api({"eth0": {"rx_bytes": 7, "tx_bytes": 9, "rx_packets": 1},
                          "lo": {"rx_bytes": 1}})
    assert api == (InterfaceStats("eth0", 7, 1, 0, 0, 9, 0, 0, 0),)


def test_stats_api_extras() -> None:
    counters = counters_from_stats({
        "cpu_stats": {"cpu_usage": {"usage_in_usermode": 2_000_000_000,
                                    "usage_in_kernelmode": 500_000_000},
                      "throttling_data": {"periods": 9, "throttled_periods": 2}},
        "memory_stats": {"failcnt": 4, "max_usage": 70, "stats": {"total_swap": 8}},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "Read", "value": 11},
            {"major": 8, "minor": 0, "op": "Write", "value": 22},
            {"major": 8, "minor": 0, "op": "Total", "value": 33}]},
    })
    assert counters == ExtraCounters(2.0, 0.5, 9, 2, 8, 4, (DeviceIo(8, 0, 11, 22),), 70)


def test_walk_counts_allocated_blocks_once_per_hard_link_and_keeps_its_budget(
    tmp_path: Path
) -> None:
    layer = tmp_path / "layer"
    (layer / "sub").mkdir(parents=True)
    (layer / "sub" / "a").write_bytes(os.urandom(64 * 1024))
    os.link(layer / "sub" / "a", layer / "b")
    used, entries = walk_usage(layer, budget=10)
    assert entries == 4  # layer, sub, a, b
    expected = sum(os.lstat(p).st_blocks * 512 for p in (layer, layer / "sub", layer / "b"))
    assert used == expected and used >= 64 * 1024
    with pytest.raises(BudgetExceeded, match="more than 3 entries"):
        walk_usage(layer, budget=3)
    [fs] = filesystem_usage([layer, tmp_path / "gone"], 10, {})
    st = os.statvfs(layer)
    assert fs == FsUsage(f"{os.major(os.stat(layer).st_dev)}:{os.minor(os.stat(layer).st_dev)}",
                         used, st.f_blocks * st.f_frsize, st.f_files, fs.inodes_free)
    assert 0 < fs.inodes_free <= fs.inodes_total


def test_device_names_from_the_mount_table_and_sysfs(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "30 22 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n")
    assert mount_devices(mountinfo) == {os.makedev(254, 0): "/dev/vda",
                                        os.makedev(0, 26): "tmpfs"}
    (tmp_path / "254:0").mkdir()
    (tmp_path / "254:0" / "uevent").write_text("MAJOR=254\nMINOR=0\nDEVNAME=vda\n")
    assert block_device_name(254, 0, tmp_path) == "/dev/vda"
    assert block_device_name(8, 0, tmp_path) == "8:0"


def test_label_allow_list() -> None:
    compose = {"com.docker.compose.project": "shop", "com.docker.compose.project.working_dir":
               "/srv/shop", "org.opencontainers.image.title": "web"}
    default = LabelAllowList(MetricsConfig().cadvisor_labels)
    assert [label_name(c) for c in default.columns([compose, {}])] == [
        "container_label_com_docker_compose_project",
        "container_label_com_docker_compose_project_working_dir"]
    assert len(LabelAllowList(["*"]).columns([compose])) == 3
    assert LabelAllowList([]).columns([compose]) == []
    assert LabelAllowList(["a.b", "a_b"]).columns([{"a.b": "1", "a_b": "2"}]) == ["a.b"]


ETH0 = InterfaceStats("eth0", 100, 2, 0, 1, 300, 4, 0, 0)
COUNTERS = ExtraCounters(6.0, 3.0, 40, 12, 4096, 3, (DeviceIo(254, 0, 1000, 2000),), 9000, 777)


def test_extra_families_have_cadvisor_names_types_and_labels() -> None:
    host = HostSample(1.8e9, 4, None, 0, 0, 0, 8 * 1024**3, 0, 0, 0, 2 * 1024**3, 0, 0)
    limited, unlimited, sidecar = "a" * 64, "b" * 64, "c" * 64
    extras = FixedExtras(
        {limited: ContainerExtras(1.8e9, COUNTERS, (ETH0,)),
         unlimited: ContainerExtras(1.8e9, COUNTERS, (ETH0,)),
         sidecar: ContainerExtras(1.8e9, COUNTERS, None)},
        {limited: (FsUsage("/dev/vda", 5000, 10**9, 100, 40),)},
        RootExtras(1.8e9, RootReading(50.0, 900, 700, 300, 600, COUNTERS), (ETH0,)),
    )
    samples = [sample(limited, detail()),
               sample(unlimited, detail(cpu_quota_us=None, cgroup_path="/docker/" + "b" * 64)),
               sample(sidecar, detail(cgroup_path="/docker/" + "c" * 64))]
    snapshot = Snapshot(1.8e9, host, tuple(samples))
    facts = {limited: Facts("shop-web-1", "nginx", None, {"com.docker.compose.project": "shop",
                                                          "org.label-schema.group": "x"})}
    source = CadvisorMetrics(lambda: snapshot, facts.get, extras, LabelAllowList(["*"]))
    exp = Exposition(Metrics([source], host="h1").render().decode())
    web = {"name": "shop-web-1"}
    rx = exp.one("container_network_receive_bytes_total", **web)
    assert (rx.value, rx.labels["interface"], rx.labels["image"]) == (100, "eth0", "nginx")
    assert rx.labels["container_label_org_label_schema_group"] == "x"
    assert exp.one("container_network_receive_bytes_total", name="shop-" + unlimited).labels[
        "container_label_org_label_schema_group"] == ""  # every series has every label name
    assert exp.value("container_network_transmit_packets_total", **web) == 4
    assert exp.value("container_network_receive_packets_dropped_total", **web) == 1
    assert not exp.samples("container_network_receive_bytes_total", name="shop-" + sidecar)
    for family in ("container_network_receive_bytes", "container_cpu_user_seconds",
                   "container_cpu_cfs_periods", "container_fs_reads_bytes"):
        assert exp.type_of(family) == "counter", family
    assert exp.value("container_cpu_user_seconds_total", **web) == 6.0
    assert exp.value("container_cpu_system_seconds_total", **web) == 3.0
    assert exp.value("container_cpu_cfs_periods_total", **web) == 40
    assert exp.value("container_cpu_cfs_throttled_periods_total", **web) == 12
    unlimited_name = {"name": "shop-" + unlimited}
    assert not exp.samples("container_cpu_cfs_periods_total", **unlimited_name)
    assert exp.value("container_cpu_user_seconds_total", **unlimited_name) == 6.0
    assert exp.value("container_memory_swap", **web) == 4096
    assert exp.value("container_memory_failcnt", **web) == 3
    assert exp.value("container_memory_max_usage_bytes", **web) == 9000
    assert exp.value("container_memory_mapped_file", **web) == 777
    assert exp.value("container_oom_events_total", **web) == 0
    assert exp.type_of("container_oom_events") == "counter"
    reads = exp.one("container_fs_writes_bytes_total", **web)
    assert reads.value == 2000 and reads.labels["device"] == block_device_name(254, 0)
    assert exp.value("container_blkio_device_usage_total", **web, operation="Read") == 1000
    fs = {**web, "device": "/dev/vda"}
    assert exp.value("container_fs_usage_bytes", **fs) == 5000
    assert exp.value("container_fs_limit_bytes", **fs) == 10**9
    assert exp.value("container_fs_inodes_total", **fs) == 100
    assert exp.value("container_fs_inodes_free", **fs) == 40
    root = {"id": "/", "name": "", "image": ""}
    assert exp.value("container_cpu_usage_seconds_total", **root, cpu="total") == 50.0
    assert exp.value("container_memory_rss", **root) == 300
    assert exp.value("container_memory_working_set_bytes", **root) == 700
    assert exp.value("container_cpu_system_seconds_total", **root) == 3.0
    assert exp.value("container_network_transmit_bytes_total", **root) == 300
    assert exp.value("machine_cpu_cores") == 4
    assert exp.value("machine_memory_bytes") == 8 * 1024**3
    assert exp.value("machine_swap_bytes") == 2 * 1024**3
    assert exp.value("stackmedic_cadvisor_read_cpu_seconds_total", part="filesystem_walk") == 0
