"""What kind of engine the agent talks to, read from its ``/info`` and ``/version`` answers."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["EngineIdentity", "EngineKind", "identify"]


class EngineKind(enum.StrEnum):
    """The engine behind the Docker-compatible API."""

    DOCKER = "docker"
    PODMAN = "podman"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class EngineIdentity:
    """The engine's kind, versions, rootless mode and cgroup layout, as it reports them."""

    kind: EngineKind
    version: str | None
    api_version: str | None
    rootless: bool
    cgroup_version: str | None  # "1" or "2"
    cgroup_driver: str | None  # "systemd", "cgroupfs", "none"
    os: str | None = None
    kernel: str | None = None
    data_root: str | None = None


def identify(info: Mapping[str, Any], version: Mapping[str, Any]) -> EngineIdentity:
    """The identity an engine gives of itself in its ``/info`` and ``/version`` answers."""
    platform = version.get("Platform")
    platform_name = platform.get("Name", "") if isinstance(platform, Mapping) else ""
    components = version.get("Components") or []
    names = [str(c.get("Name", "")) for c in components if isinstance(c, Mapping)]
    if any("podman" in name.lower() for name in [*names, str(platform_name)]):
        kind = EngineKind.PODMAN
    elif version:
        kind = EngineKind.DOCKER
    else:
        kind = EngineKind.UNKNOWN
    security = [str(option) for option in info.get("SecurityOptions") or []]
    rootless = any("name=rootless" in option for option in security)
    cgroup_version = str(info.get("CgroupVersion") or "").removeprefix("v")  # Podman: "v2"
    return EngineIdentity(
        kind=kind,
        version=_str(version.get("Version")),
        api_version=_str(version.get("ApiVersion")),
        rootless=rootless,
        cgroup_version=_str(cgroup_version),
        cgroup_driver=_str(info.get("CgroupDriver")),
        os=_str(info.get("OperatingSystem")),
        kernel=_str(info.get("KernelVersion")),
        data_root=_str(info.get("DockerRootDir")),
    )


def _str(value: object) -> str | None:
    return None if value in (None, "") else str(value)
