"""A small private kit for the resource tests: an offline busybox image and labelled containers."""

from __future__ import annotations

import asyncio
import io
import subprocess
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path

from stackmedic.resources import ResourceMonitor, Snapshot

IMAGE = "stackmedic-resources-test:busybox"
LABEL = "stackmedic.test.resources"
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "sleep", "dd", "tail", "cat", "echo", "true")


def docker(*args: str, check: bool = True) -> str:
    """Run the docker CLI with an argument list and return its stdout."""
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=120, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def ensure_image() -> str:
    """Import the busybox image into the main daemon unless it is already there."""
    found = subprocess.run(
        ["docker", "image", "inspect", IMAGE], capture_output=True, timeout=60, check=False
    )
    if found.returncode == 0:
        return IMAGE
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in ("bin", "dev", "tmp"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(str(BUSYBOX), arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    subprocess.run(
        ["docker", "import", "--change", 'ENTRYPOINT ["/bin/sh","-c"]', "-", IMAGE],
        input=buffer.getvalue(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    return IMAGE


class Containers:
    """Starts labelled containers without a network and removes every one of them at cleanup."""

    def __init__(self, image: str) -> None:
        self.image = image
        self.run_id = uuid.uuid4().hex[:10]

    def run(self, command: str, *, cpus: float | None = None, memory: str | None = None,
            cpu_shares: int | None = None) -> str:
        """Start a detached container running `command` under sh; return its full id."""
        args = ["run", "-d", "--network", "none", "--label", f"{LABEL}={self.run_id}"]
        if cpus is not None:
            args += ["--cpus", str(cpus)]
        if cpu_shares is not None:
            args += ["--cpu-shares", str(cpu_shares)]
        if memory is not None:
            args += ["--memory", memory, "--memory-swap", memory]
        return docker(*args, self.image, command)

    def cleanup(self) -> None:
        """Remove every container this kit started."""
        ids = docker("ps", "-aq", "--filter", f"label={LABEL}={self.run_id}", check=False)
        if ids:
            docker("rm", "-f", *ids.split(), check=False)


async def snapshot_where(
    monitor: ResourceMonitor, predicate: Callable[[Snapshot], bool], *, timeout: float
) -> Snapshot:
    """Wait for the running monitor's next snapshots until one satisfies `predicate`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Snapshot | None = None
    while (remaining := deadline - loop.time()) > 0:
        try:
            last = await monitor.next_snapshot(timeout=remaining)
        except TimeoutError:
            break
        if predicate(last):
            return last
    raise AssertionError(f"no snapshot matched within {timeout}s; last: {last}")
