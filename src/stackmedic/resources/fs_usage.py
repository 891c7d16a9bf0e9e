"""Disk usage of a container's writable layer and volumes, and the filesystem they are on.

The one costly figure of the cAdvisor families: usage is a walk of every entry (as ``du``
counts: allocated blocks, a hard-linked file once), so it is bounded by an entry budget and
run rarely, off the event loop. The filesystem's size and inodes come from ``statvfs``; its
device name (cAdvisor's ``device`` label) from the mount table.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class BudgetExceeded(Exception):
    """A walk met more entries than it may count."""


@dataclass(frozen=True, slots=True)
class FsUsage:
    """What one container uses on one filesystem, and that filesystem's size."""

    device: str
    usage_bytes: int
    limit_bytes: int
    inodes_total: int
    inodes_free: int


def walk_usage(path: Path, budget: int) -> tuple[int, int]:
    """Bytes allocated and entries under ``path`` (not following links, not leaving its
    filesystem); BudgetExceeded past ``budget`` entries, FileNotFoundError when gone."""
    top = os.lstat(path)
    used, entries = top.st_blocks * 512, 1
    seen: set[int] = set()
    stack = [str(path)]
    while stack:
        try:
            scan = os.scandir(stack.pop())
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        with scan:
            for entry in scan:
                entries += 1
                if entries > budget:
                    raise BudgetExceeded(f"{path}: more than {budget} entries")
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if st.st_dev != top.st_dev:
                    continue
                if st.st_nlink > 1 and not entry.is_dir(follow_symlinks=False):
                    if st.st_ino in seen:
                        continue
                    seen.add(st.st_ino)
                used += st.st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return used, entries


def mount_devices(mountinfo: Path = Path("/proc/self/mountinfo")) -> dict[int, str]:
    """Each mounted filesystem's device number and the name cAdvisor gives it."""
    devices: dict[int, str] = {}
    for line in mountinfo.read_text().splitlines():
        fields = line.split()
        if len(fields) < 10 or "-" not in fields:
            continue
        major, _, minor = fields[2].partition(":")
        source = fields[fields.index("-") + 2]
        devices.setdefault(os.makedev(int(major), int(minor)), source)
    return devices


def filesystem_usage(
    paths: Iterable[Path], budget: int, devices: dict[int, str]
) -> list[FsUsage]:
    """Usage of ``paths`` summed per filesystem, with each filesystem's size and inodes.

    A path that is gone is skipped; BudgetExceeded when one holds more than ``budget``
    entries."""
    per_device: dict[int, tuple[Path, int]] = {}
    for path in paths:
        try:
            dev = os.stat(path).st_dev
            used, _ = walk_usage(path, budget)
        except FileNotFoundError:
            continue
        first, total = per_device.get(dev, (path, 0))
        per_device[dev] = (first, total + used)
    found = []
    for dev, (path, used) in per_device.items():
        fs = os.statvfs(path)
        found.append(FsUsage(
            device=devices.get(dev, f"{os.major(dev)}:{os.minor(dev)}"),
            usage_bytes=used,
            limit_bytes=fs.f_blocks * fs.f_frsize,
            inodes_total=fs.f_files,
            inodes_free=fs.f_ffree,
        ))
    return found


def block_device_name(major: int, minor: int, sys_dev: Path = Path("/sys/dev/block")) -> str:
    """The ``/dev/`` name of a block device number (``MAJ:MIN`` when sysfs does not say)."""
    try:
        for line in (sys_dev / f"{major}:{minor}" / "uevent").read_text().splitlines():
            if line.startswith("DEVNAME="):
                return "/dev/" + line.removeprefix("DEVNAME=")
    except OSError:
        pass
    return f"{major}:{minor}"
