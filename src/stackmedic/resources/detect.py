"""Building the container sampler: who the engine is, where its cgroups are, which source."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import aiodocker
import structlog

from stackmedic.engine.identity import EngineIdentity, identify
from stackmedic.resources.cgroup_paths import rootless_uid
from stackmedic.resources.cgroups import CgroupLayout, detect_layout
from stackmedic.resources.config import ResourcesConfig
from stackmedic.resources.host import HostSampler
from stackmedic.resources.sampler import ContainerSampler
from stackmedic.resources.stats_api import StatsApiReader

log = structlog.get_logger(__name__)


async def build_sampler(
    config: ResourcesConfig,
    docker: aiodocker.Docker | None,
    stats_api: StatsApiReader | None,
    host: HostSampler,
    monotonic_ns: Callable[[], int] = time.monotonic_ns,
) -> tuple[CgroupLayout | None, ContainerSampler]:
    """Detect the cgroup layout (asking the engine who it is, its driver and root) and build
    the sampler. The engine's data root is added to the host's watched disks as `docker`.

    Nothing is logged as a warning here: the host report (``stackmedic.hostinfo``) says once
    what cannot work and how to fix it.
    """
    identity = None
    if docker is not None:
        identity = await engine_identity(docker)
        if identity is not None and identity.data_root:
            host.add_disk_path("docker", Path(identity.data_root))
    layout = None
    if config.source != "stats_api":
        layout = layout_for(config.cgroup_root, identity, getattr(docker, "docker_host", None))
        if layout is None:
            log.info(
                "resources.cgroups_unavailable",
                root=str(config.cgroup_root),
                fallback="stats_api" if config.source == "auto" and stats_api else "none",
            )
    sampler = ContainerSampler(
        layout=layout,
        stats_api=stats_api,
        source=config.source,
        limits_refresh_seconds=config.limits_refresh_seconds,
        monotonic_ns=monotonic_ns,
    )
    return layout, sampler


async def engine_identity(docker: aiodocker.Docker) -> EngineIdentity | None:
    """The engine's identity from its /info and /version answers; None when it did not answer."""
    try:
        info = await docker.system.info()
        version = await docker.version()
    except (aiodocker.DockerError, OSError, TimeoutError) as exc:
        log.info("resources.engine_info_failed", error=str(exc))
        return None
    return identify(info, version)


def layout_for(
    root: Path, identity: EngineIdentity | None, docker_host: str | None
) -> CgroupLayout | None:
    """The cgroup layout under `root` for the engine (kind, driver, rootless user) if known."""
    layout = detect_layout(root, identity.cgroup_driver if identity else None)
    if layout is None or identity is None:
        return layout
    uid = rootless_uid(docker_host) if identity.rootless else None
    return layout.for_engine(identity.kind.value, rootless=identity.rootless, uid=uid)
