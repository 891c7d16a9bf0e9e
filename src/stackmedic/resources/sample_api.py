"""One container's sample through the engine's stats API, where its cgroup files fail."""

from __future__ import annotations

from stackmedic.resources.cgroups import CgroupLayout
from stackmedic.resources.models import ContainerSample, SampleDetail
from stackmedic.resources.sample_build import HostShape, build_sample
from stackmedic.resources.stats_api import StatsApiReader, cpu_core_percent
from stackmedic.resources.tracked import TrackedContainer


async def read_api(
    api: StatsApiReader,
    tracked: TrackedContainer,
    ts: float,
    host: HostShape,
    now_ns: int,
    refresh_ns: int,
    cgroup_path: str,
) -> ContainerSample | None:
    """Ask the engine for the container's figures (and its limits when due).

    None when the container is not running or is gone. CPU % is the engine's own where it
    tells one, else the delta from the previous reading against the host's CPU time.
    """
    cid = tracked.ref.container_id
    if not tracked.via_api:
        tracked.via_api = True
        tracked.start_over()
    if tracked.limits_due(now_ns, refresh_ns):
        tracked.keep_limits(await api.limits(cid), now_ns)
    reading = await api.read(cid)
    if reading is None:
        tracked.prev_cpu_ns = tracked.prev_clock_ns = None
        return None
    core_percent = reading.cpu_core_percent
    if core_percent is None and reading.system_ns is not None:
        if tracked.prev_cpu_ns is not None and tracked.prev_clock_ns is not None:
            core_percent = cpu_core_percent(
                reading.cpu_ns - tracked.prev_cpu_ns,
                reading.system_ns - tracked.prev_clock_ns,
                reading.online_cpus,
            )
        tracked.prev_cpu_ns, tracked.prev_clock_ns = reading.cpu_ns, reading.system_ns
    return build_sample(
        tracked.ref,
        tracked.cpu_limit_cores,
        ts,
        host,
        source="stats_api",
        core_percent=core_percent,
        cpu_ns=reading.cpu_ns,
        memory_bytes=reading.memory_bytes,
        memory_limit=reading.memory_limit_bytes or None,
        oom_kills=None,
        detail=SampleDetail.from_reading(
            reading, tracked, cgroup_path, read_at=reading.read_at
        ),
    )


def engine_cgroup_path(
    layout: CgroupLayout | None, cgroup_driver: str | None, container_id: str
) -> str:
    """The container's cgroup path as cAdvisor's ``id`` (where the engine puts it)."""
    if layout is not None:
        return "/" + layout.relative_dirs(container_id)[0]
    if cgroup_driver == "systemd":
        return f"/system.slice/docker-{container_id}.scope"
    return f"/docker/{container_id}"
