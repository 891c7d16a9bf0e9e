"""The folder a private engine of the tests (dockerd or podman) lives in: who owns it, its
network namespace, and the sweep of folders a killed test run left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

OWNER_FILE = "owner"
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def find_tool(name: str, error: type[Exception] = RuntimeError) -> str:
    """The path of program ``name`` (sbin folders included); ``error`` when it is missing."""
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":" + SBIN_PATH)
    if found is None:
        raise error(f"{name} not found on PATH")
    return found


def process_identity(pid: int) -> str:
    """``pid:start-time``, which tells a live process apart from a later one reusing its pid."""
    try:
        start = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""
    return f"{pid}:{start}"


def claim(folder: Path) -> None:
    """Mark ``folder`` as owned by this test process."""
    (folder / OWNER_FILE).write_text(process_identity(os.getpid()))


def orphans(base: Path, prefix: str) -> Iterator[Path]:
    """Folders under ``base`` named ``prefix*`` whose owning process is gone."""
    for folder in sorted(base.glob(f"{prefix}*")):
        try:
            owner = (folder / OWNER_FILE).read_text()
        except OSError:
            continue
        pid = owner.split(":", 1)[0]
        if pid.isdigit() and process_identity(int(pid)) == owner:
            continue
        yield folder


def mountpoints_under(folder: Path) -> list[str]:
    """Mount points at or below ``folder``, deepest first."""
    prefix = str(folder)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        raw = line.split()[4]
        point = raw.encode().decode("unicode_escape")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(points, key=lambda p: p.count("/"), reverse=True)


def ensure_netns(folder: Path, netns: Path) -> None:
    """A network namespace bind-mounted at ``netns`` (inside ``folder``), with ``lo`` up."""
    if str(netns) in mountpoints_under(folder):
        return
    netns.touch()
    subprocess.run([find_tool("unshare"), f"--net={netns}", "true"], check=True, timeout=30)
    subprocess.run([find_tool("nsenter"), f"--net={netns}", "/bin/busybox", "ip", "link", "set",
                    "lo", "up"], check=True, timeout=30, capture_output=True)
