"""Where engines put a container's cgroup, per engine, cgroup driver and rootless mode.

Each pattern is relative to the unified (v2) root or to a v1 controller's mount. ``{id}`` is
the full container id, ``{uid}`` the rootless user's id (``*`` when it is not known), and a
``*`` elsewhere stands for a slice name that varies (a Podman pod's slice, say).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

EngineName = Literal["docker", "podman"]
CgroupDriver = Literal["cgroupfs", "systemd"]

ROOTLESS_USER_SERVICE = "user.slice/user-{uid}.slice/user@{uid}.service"


@dataclass(frozen=True, slots=True)
class PathPattern:
    """One place an engine puts container cgroups."""

    engine: EngineName
    driver: CgroupDriver
    rootless: bool
    template: str

    def shown(self) -> str:
        """The pattern as a person reads it, e.g. ``system.slice/docker-<id>.scope``."""
        return self.template.replace("{id}", "<id>").replace("{uid}", "<uid>")

    def candidates(self, base: Path, container_id: str, uid: int | None) -> Iterator[Path]:
        """Existing directories under ``base`` matching this pattern for one container."""
        rel = self.template.format(id=container_id, uid="*" if uid is None else uid)
        if "*" not in rel:
            path = base / rel
            if path.is_dir():
                yield path
            return
        yield from (p for p in sorted(base.glob(rel)) if p.is_dir())


_USER = ROOTLESS_USER_SERVICE

PATTERNS: tuple[PathPattern, ...] = (
    PathPattern("docker", "systemd", False, "system.slice/docker-{id}.scope"),
    PathPattern("docker", "cgroupfs", False, "docker/{id}"),
    PathPattern("docker", "systemd", True, _USER + "/user.slice/docker-{id}.scope"),
    PathPattern("docker", "systemd", True, _USER + "/*/docker-{id}.scope"),
    PathPattern("podman", "systemd", False, "machine.slice/libpod-{id}.scope"),
    PathPattern("podman", "systemd", False, "machine.slice/*/libpod-{id}.scope"),
    PathPattern("podman", "cgroupfs", False, "libpod_parent/libpod-{id}"),
    PathPattern("podman", "systemd", True, _USER + "/user.slice/libpod-{id}.scope"),
    PathPattern("podman", "systemd", True, _USER + "/user.slice/*/libpod-{id}.scope"),
)


def ordered_patterns(
    engine: EngineName, driver: CgroupDriver | None, rootless: bool
) -> list[PathPattern]:
    """Every pattern, the most likely for this engine, driver and mode first.

    All are kept so that a wrong guess (an engine that reports no driver, a daemon restarted
    with another one) costs a few ``stat`` calls rather than the figures.
    """

    def rank(p: PathPattern) -> tuple[int, int, int, int]:
        return (
            p.engine != engine,
            p.rootless != rootless,
            driver is not None and p.driver != driver,
            "*" in p.template.replace("{uid}", ""),
        )

    return sorted(PATTERNS, key=rank)


_RUNTIME_DIR = re.compile(r"/run/user/(\d+)/")


def rootless_uid(engine_host: str | None) -> int | None:
    """The user a rootless engine runs as: from its socket path (``/run/user/UID/...``), else
    this process's user when it is not root; None when neither tells."""
    found = _RUNTIME_DIR.search(engine_host or "")
    if found:
        return int(found[1])
    uid = os.getuid()
    return uid if uid != 0 else None
