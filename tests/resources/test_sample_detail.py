"""Both samplers give a sample the same detail (cAdvisor's figures) for the same readings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import cast

from stackmedic.resources import ContainerRef, detect_layout
from stackmedic.resources.cgroup_reader import CgroupReader
from stackmedic.resources.sample_api import engine_cgroup_path, read_api
from stackmedic.resources.sample_build import HostShape
from stackmedic.resources.sample_cgroup import read_cgroup
from stackmedic.resources.stats_api import ApiLimits, ApiReading, StatsApiReader
from stackmedic.resources.tracked import TrackedContainer

from .fake_cgroups import FakeCgroupTree, FakeContainer

CID = "ef" * 32
MIB = 1024**2
HOST = HostShape(cpu_count=4, memory_total_bytes=8192 * MIB)


class StubStatsApi:
    """Answers the stats API's two questions with fixed figures."""

    def __init__(self, reading: ApiReading, limits: ApiLimits) -> None:
        self.reading, self.found_limits = reading, limits

    async def limits(self, container_id: str) -> ApiLimits:
        return self.found_limits

    async def read(self, container_id: str) -> ApiReading | None:
        return self.reading


async def test_cgroup_and_stats_api_samples_carry_the_same_detail(tmp_path: Path) -> None:
    tree = FakeCgroupTree(tmp_path, 2, "cgroupfs")
    tree.write(CID, FakeContainer(usage=50 * MIB, inactive_file=8 * MIB,
                                  memory_limit=256 * MIB, cpu_quota_us=50_000))
    (tmp_path / tree._rel(CID) / "cpu.stat").write_text(
        "usage_usec 7\nnr_periods 40\nnr_throttled 12\nthrottled_usec 2500000\n")
    layout = detect_layout(tmp_path)
    assert layout is not None
    files = layout.container_files(CID)
    assert files is not None
    reader = CgroupReader(files)
    reader.open()
    try:
        from_files = read_cgroup(TrackedContainer(ContainerRef(CID), reader=reader),
                                 1000.0, HOST, now_ns=1, refresh_ns=10**9)
    finally:
        reader.close()
    assert from_files is not None and from_files.detail is not None
    detail = from_files.detail
    assert (detail.usage_bytes, detail.working_set_bytes) == (50 * MIB, 42 * MIB)
    assert detail.throttled_seconds == 2.5
    assert (detail.cpu_quota_us, detail.cpu_period_us) == (50_000, 100_000)
    assert detail.memory_limit_bytes == 256 * MIB
    assert (detail.cgroup_path, detail.read_at) == (f"/docker/{CID}", None)

    api = StubStatsApi(
        ApiReading(cpu_ns=7000, system_ns=None, online_cpus=4, memory_bytes=42 * MIB,
                   memory_limit_bytes=256 * MIB, usage_bytes=detail.usage_bytes,
                   working_set_bytes=detail.working_set_bytes, rss_bytes=detail.rss_bytes,
                   cache_bytes=detail.cache_bytes, throttled_ns=2_500_000_000, read_at=999.5),
        ApiLimits(cpu_cores=0.5, cpu_quota_us=50_000, cpu_period_us=100_000,
                  memory_bytes=256 * MIB),
    )
    from_api = await read_api(cast(StatsApiReader, api), TrackedContainer(ContainerRef(CID)),
                              1000.0, HOST, now_ns=1, refresh_ns=10**9,
                              cgroup_path=engine_cgroup_path(None, "cgroupfs", CID))
    assert from_api is not None
    assert from_api.detail == replace(detail, read_at=999.5)
