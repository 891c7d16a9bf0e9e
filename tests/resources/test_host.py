"""Host figures through psutil."""

from __future__ import annotations

from pathlib import Path

from stackmedic.resources.host import HostSampler


def test_host_sample(tmp_path: Path) -> None:
    sampler = HostSampler({"data": tmp_path, "gone": tmp_path / "missing"})
    first = sampler.sample(1.0)
    assert first.cpu_percent is None
    assert first.memory_total_bytes > 0 and 0 <= first.memory_percent <= 100
    assert first.memory_used_bytes + first.memory_available_bytes == first.memory_total_bytes
    assert [d.label for d in first.disks] == ["data"]
    assert 0 <= first.disks[0].percent <= 100
    second = sampler.sample(2.0)
    assert second.cpu_percent is not None and 0 <= second.cpu_percent <= 100
    assert second.load1 >= 0


def test_a_path_is_watched_once() -> None:
    sampler = HostSampler({"data": Path("/")})
    sampler.add_disk_path("docker", Path("/"))
    sampler.add_disk_path("data", Path("/tmp"))
    assert sampler.disk_paths == {"data": Path("/")}
