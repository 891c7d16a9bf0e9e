"""One container's sample from its open cgroup files."""

from __future__ import annotations

from stackmedic.resources.models import ContainerSample, SampleDetail
from stackmedic.resources.sample_build import HostShape, build_sample
from stackmedic.resources.tracked import TrackedContainer


def read_cgroup(
    tracked: TrackedContainer, ts: float, host: HostShape, now_ns: int, refresh_ns: int
) -> ContainerSample | None:
    """Read the container's counters (and its limits when due); None when the files went.

    A cgroup removed under the reader (the container stopped or restarted) closes the
    reader, so that the files are looked for again.
    """
    reader = tracked.reader
    assert reader is not None
    try:
        counters = reader.read()
        if tracked.limits_due(now_ns, refresh_ns):
            tracked.keep_limits(reader.read_limits(), now_ns)
    except (OSError, ValueError):
        reader.close()
        tracked.reader = None
        return None
    core_percent = None
    if tracked.prev_cpu_ns is not None and tracked.prev_clock_ns is not None:
        elapsed = now_ns - tracked.prev_clock_ns
        if elapsed > 0 and counters.cpu_ns >= tracked.prev_cpu_ns:
            core_percent = (counters.cpu_ns - tracked.prev_cpu_ns) / elapsed * 100.0
    tracked.prev_cpu_ns, tracked.prev_clock_ns = counters.cpu_ns, now_ns
    return build_sample(
        tracked.ref,
        tracked.cpu_limit_cores,
        ts,
        host,
        source="cgroups",
        core_percent=core_percent,
        cpu_ns=counters.cpu_ns,
        memory_bytes=counters.memory_bytes,
        memory_limit=tracked.memory_limit_bytes,
        oom_kills=counters.oom_kills,
        detail=SampleDetail.from_reading(counters, tracked, reader.files.cgroup_path),
    )
