"""The host report and the cgroup reader against a real rootful Podman API service."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackmedic.engine.client import EngineClient
from stackmedic.hostinfo import HostInspector
from stackmedic.resources import ContainerRef, ResourceMonitor, ResourcesConfig
from stackmedic.store import Database
from support.wait import async_wait_until, wait_until

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(shutil.which("podman") is None, reason="Debian's podman is not installed"),
]


@dataclass
class PodmanService:
    """A private rootful `podman system service` on its own socket and storage."""

    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def socket(self) -> Path:
        return self.folder / "p.sock"

    def podman(self, *args: str) -> str:
        done = subprocess.run(
            ["podman", "--root", str(self.folder / "root"), "--runroot",
             str(self.folder / "run"), "--cgroup-manager=cgroupfs", "--events-backend=file",
             *args], capture_output=True, text=True, timeout=120, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()


@pytest.fixture
def podman_service(busybox_image: str) -> Iterator[PodmanService]:
    folder = Path(tempfile.mkdtemp(prefix="smp", dir="/tmp"))  # short socket path
    command = ["podman", "--root", str(folder / "root"), "--runroot", str(folder / "run"),
               "--cgroup-manager=cgroupfs", "--events-backend=file",
               "system", "service", "--time=0", f"unix://{folder}/p.sock"]
    log = (folder / "service.log").open("wb")
    service = PodmanService(folder, subprocess.Popen(command, stdout=log, stderr=log))
    try:
        wait_until(service.socket.exists, 30, message="the Podman socket")
        subprocess.run(["docker", "save", busybox_image, "-o", str(folder / "image.tar")],
                       check=True, timeout=120)
        service.podman("load", "-i", str(folder / "image.tar"))
        yield service
    finally:
        subprocess.run(["podman", "--root", str(folder / "root"), "--runroot",
                        str(folder / "run"), "rm", "-a", "-f", "-t", "0"],
                       capture_output=True, timeout=120, check=False)
        service.process.terminate()
        service.process.wait(timeout=30)
        log.close()
        subprocess.run(["podman", "--root", str(folder / "root"), "--runroot",
                        str(folder / "run"), "system", "reset", "-f"],
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def podman_engine(podman_service: PodmanService) -> AsyncIterator[EngineClient]:
    engine = EngineClient(f"unix://{podman_service.socket}")
    try:
        yield engine
    finally:
        await engine.close()


async def test_podman_is_named_and_its_containers_read_from_cgroup_files(
    tmp_path: Path, podman_service: PodmanService, podman_engine: EngineClient,
    busybox_image: str,
) -> None:
    image = busybox_image if "/" in busybox_image else f"localhost/{busybox_image}"
    cid = podman_service.podman(
        "run", "-d", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit",
        "nproc=1024:1024", "--memory", "64m", "--cpus", "0.5", image, "sleep 3600")
    db = Database(tmp_path / "data" / "stackmedic.db")
    config = ResourcesConfig(sample_interval_seconds=0.5, rules=[])
    monitor = ResourceMonitor(config, db, podman_engine.docker)
    monitor.set_targets([ContainerRef(cid, "site", "web", "site-web-1")])
    inspector = HostInspector(engine=podman_engine, resources=monitor, config=config,
                              compose_command=None, compose_error="no Compose here")
    try:
        assert await podman_engine.ping()
        await monitor.start()
        report = await inspector.refresh()
        assert report.engine.kind == "podman" and report.engine.rootless is False
        assert report.engine.version == podman_service.podman("version", "-f",
                                                              "{{.Server.Version}}")
        assert report.cgroup.driver == "cgroupfs"
        assert report.cgroup.pattern == "/sys/fs/cgroup/memory/libpod_parent/libpod-<id>"
        assert report.summary().startswith(f"Podman {report.engine.version} (API ")

        def read_from_files() -> bool:
            snap = monitor.latest()
            sample = snap.container(cid) if snap else None
            return sample is not None and sample.source == "cgroups"

        await async_wait_until(read_from_files, 30, message="the container read from files")
        report = inspector.report()
        assert report.cgroup.example == f"/sys/fs/cgroup/memory/libpod_parent/libpod-{cid}"
        assert report.resources.source == "cgroups"
        sample = monitor.latest().container(cid)  # type: ignore[union-attr]
        assert sample is not None and sample.memory_limit_bytes == 64 * 1024 * 1024
        assert sample.cpu_limit_cores == 0.5
        assert [p.key for p in report.problems] == ["compose-missing"]
    finally:
        await monitor.close()
        db.close()
