"""The per-container collector: cgroup files first, the engine's stats API where they fail.

It keeps what each container needs between samples (``tracked``), finds and opens the
cgroup files (looked for again with a growing delay while they are missing), and leaves
the reading to ``sample_cgroup`` and ``sample_api``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import structlog

from stackmedic.resources.cgroup_reader import CgroupReader
from stackmedic.resources.cgroups import CgroupLayout, ContainerCgroupFiles
from stackmedic.resources.config import SampleSource
from stackmedic.resources.models import ContainerRef, ContainerSample, SampleSourceName
from stackmedic.resources.sample_api import engine_cgroup_path, read_api
from stackmedic.resources.sample_build import HostShape
from stackmedic.resources.sample_cgroup import read_cgroup
from stackmedic.resources.stats_api import StatsApiReader
from stackmedic.resources.tracked import TrackedContainer

log = structlog.get_logger(__name__)

__all__ = ["ContainerSampler", "HostShape"]

_YIELD_EVERY = 256
_FIRST_RETRY_NS = 1_000_000_000


class ContainerSampler:
    """Samples a changing set of containers; CPU % comes from deltas between samples."""

    def __init__(
        self,
        *,
        layout: CgroupLayout | None,
        stats_api: StatsApiReader | None,
        source: SampleSource = "auto",
        limits_refresh_seconds: float = 60.0,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        cgroup_driver: str | None = None,
    ) -> None:
        self._driver = cgroup_driver
        self._layout = layout if source != "stats_api" else None
        self._api = stats_api if source != "cgroups" else None
        self._refresh_ns = int(limits_refresh_seconds * 1e9)
        self._monotonic_ns = monotonic_ns
        self._tracked: dict[str, TrackedContainer] = {}
        self.fallback_reason: str | None = None

    @property
    def uses_cgroups(self) -> bool:
        """Whether cgroup files are read at all."""
        return self._layout is not None

    @property
    def layout(self) -> CgroupLayout | None:
        """The cgroup layout the files are looked for in (None: stats API only)."""
        return self._layout

    def set_layout(self, layout: CgroupLayout | None) -> None:
        """Look for cgroup files in another layout from now on (the engine changed)."""
        if layout == self._layout or self._layout is None:
            return
        self.close()
        self._layout = layout
        self.fallback_reason = None

    def cgroup_directories(self) -> dict[str, tuple[str, str]]:
        """Each container read from files: its cgroup directory and the pattern it matched."""
        found: dict[str, tuple[str, str]] = {}
        for cid, tracked in self._tracked.items():
            files = tracked.reader.files if tracked.reader is not None else None
            if files is not None and files.directory is not None:
                found[cid] = (str(files.directory), files.pattern)
        return found

    def sources(self) -> dict[str, SampleSourceName]:
        """How each tracked container was last sampled, by container id."""
        return {cid: "stats_api" if t.via_api else "cgroups" for cid, t in self._tracked.items()}

    async def sample(
        self, targets: Sequence[ContainerRef], ts: float, host: HostShape
    ) -> list[ContainerSample]:
        """Sample every target once; containers that are not running are left out."""
        self._forget_except({ref.container_id for ref in targets})
        samples: list[ContainerSample] = []
        fallback: list[TrackedContainer] = []
        for index, ref in enumerate(targets):
            if index % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
            tracked = self._tracked.get(ref.container_id)
            if tracked is None:
                tracked = self._tracked[ref.container_id] = TrackedContainer(ref)
            tracked.ref = ref
            if self._layout is not None:
                sample = self._sample_cgroup(tracked, ts, host)
                if sample is not None:
                    samples.append(sample)
                    continue
            if self._api is not None:
                fallback.append(tracked)
        if fallback:
            results = await asyncio.gather(*(self._read_api(t, ts, host) for t in fallback))
            samples.extend(s for s in results if s is not None)
        return samples

    def close(self) -> None:
        """Close every kept-open descriptor."""
        self._forget_except(set())

    def _forget_except(self, keep: set[str]) -> None:
        for cid in [cid for cid in self._tracked if cid not in keep]:
            tracked = self._tracked.pop(cid)
            if tracked.reader is not None:
                tracked.reader.close()

    def _attach(self, tracked: TrackedContainer) -> bool:
        """Open the container's cgroup files if needed; False when they are not there."""
        if tracked.reader is not None:
            return True
        assert self._layout is not None
        now_ns = self._monotonic_ns()
        if tracked.missing_at is not None:
            wait_ns = min(self._refresh_ns, _FIRST_RETRY_NS << min(tracked.misses - 1, 16))
            if now_ns - tracked.missing_at < wait_ns:
                return False
        files = self._layout.locate(tracked.ref.container_id)
        missing = files.missing() if files is not None else []
        reader = CgroupReader(files) if files is not None and not missing else None
        try:
            if reader is not None:
                reader.open()
        except OSError as exc:
            reader = None
            missing = [f"unreadable ({exc.strerror or exc})"]
        if reader is None:
            tracked.missing_at = now_ns
            tracked.misses += 1
            self._note_fallback(tracked, files, missing)
            return False
        tracked.missing_at, tracked.misses = None, 0
        tracked.reader = reader
        tracked.via_api = False
        tracked.start_over()
        return True

    def _sample_cgroup(
        self, tracked: TrackedContainer, ts: float, host: HostShape
    ) -> ContainerSample | None:
        """Read the container's cgroup; a stale one (restarted container) is reopened once."""
        for _ in range(2):
            if not self._attach(tracked):
                return None
            sample = read_cgroup(tracked, ts, host, self._monotonic_ns(), self._refresh_ns)
            if sample is not None:
                return sample
        return None

    def _note_fallback(
        self, tracked: TrackedContainer, files: ContainerCgroupFiles | None, missing: list[str]
    ) -> None:
        """Remember why a container's cgroup files could not be used (the first reason only)."""
        if self.fallback_reason is not None:
            return
        assert self._layout is not None
        if files is None:
            name = tracked.ref.name or tracked.ref.container_id[:12]
            self.fallback_reason = (
                f"no cgroup directory for container {name}"
                f" under {self._layout.expected_pattern} (or the other known layouts)"
            )
        else:
            self.fallback_reason = f"{files.directory}: {', '.join(missing)}"
        log.info("resources.cgroup_files_not_used", reason=self.fallback_reason)

    async def _read_api(
        self, tracked: TrackedContainer, ts: float, host: HostShape
    ) -> ContainerSample | None:
        assert self._api is not None
        path = engine_cgroup_path(self._layout, self._driver, tracked.ref.container_id)
        return await read_api(
            self._api, tracked, ts, host, self._monotonic_ns(), self._refresh_ns, path
        )
