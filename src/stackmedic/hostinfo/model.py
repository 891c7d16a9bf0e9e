"""The host report's value objects and how they read as JSON, one line and a short block."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Measured on engine 20.10 (DESIGN.md, bench/bench_resources.py): what one container's
# sample costs through each source.
STATS_API_COST = "about 8 ms of the engine's CPU per container per sample"
CGROUP_FILES_COST = "about 0.08 ms of the agent's CPU per container per sample"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that cannot work on this host, and how to fix it."""

    key: str
    what: str
    fix: str


@dataclass(frozen=True, slots=True)
class EngineFacts:
    """The container engine as it describes itself."""

    reachable: bool
    host: str
    kind: str | None = None
    version: str | None = None
    api_version: str | None = None
    rootless: bool | None = None
    rootless_uid: int | None = None
    os: str | None = None
    kernel: str | None = None


@dataclass(frozen=True, slots=True)
class CgroupFacts:
    """The cgroup hierarchy and where container cgroups are found in it."""

    root: str
    version: int | None  # as mounted at root; None when no usable hierarchy is there
    engine_version: str | None  # as the engine reports it
    driver: str | None
    hybrid: bool = False
    reader: str | None = None  # "v1" or "v2"
    pattern: str | None = None  # where container cgroups are expected
    example: str | None = None  # one container's resolved cgroup directory
    controllers: list[str] | None = None  # those available to a rootless user's containers


@dataclass(frozen=True, slots=True)
class ResourceSourceFacts:
    """Where per-container CPU and memory figures come from, why, and what that costs."""

    source: str  # cgroups, stats_api, mixed, none, off
    reason: str
    cost: str
    containers_via_cgroups: int = 0
    containers_via_stats_api: int = 0


@dataclass(frozen=True, slots=True)
class ComposeFacts:
    """The Compose found to run deployments."""

    available: bool
    flavour: str | None = None
    command: list[str] | None = None
    version: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HostReport:
    """Everything the agent knows about its host that decides what it can see and do."""

    checked_at: float
    engine: EngineFacts
    cgroup: CgroupFacts
    resources: ResourceSourceFacts
    compose: ComposeFacts
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (the ``host`` object of ``/healthz``)."""
        return asdict(self)

    def summary(self) -> str:
        """One line for the dashboard footer."""
        return " · ".join(summary_parts(self.to_dict()))


def summary_parts(host: dict[str, Any]) -> list[str]:
    """The short phrases describing a host (from ``HostReport.to_dict`` or ``/healthz``)."""
    engine, cgroup = host.get("engine") or {}, host.get("cgroup") or {}
    resources, compose = host.get("resources") or {}, host.get("compose") or {}
    parts: list[str] = []
    if engine.get("kind"):
        api = f" (API {engine['api_version']})" if engine.get("api_version") else ""
        mode = "rootless" if engine.get("rootless") else "rootful"
        parts.append(f"{str(engine['kind']).capitalize()} {engine.get('version') or '?'}{api}"
                     f", {mode}")
    else:
        parts.append("engine not reached")
    if cgroup.get("version"):
        hybrid = " hybrid" if cgroup.get("hybrid") else ""
        driver = cgroup.get("driver") or "unknown driver"
        parts.append(f"cgroup v{cgroup['version']}{hybrid}, {driver}")
    else:
        parts.append("no cgroup files")
    source = {"cgroups": "cgroup files", "stats_api": "stats API"}.get(
        str(resources.get("source")), str(resources.get("source") or "?"))
    parts.append(f"resources from {source}")
    if compose.get("available"):
        version = f" {compose['version']}" if compose.get("version") else ""
        parts.append(f"Compose{version} ({compose.get('flavour')})")
    else:
        parts.append("no Compose")
    return parts


def report_lines(host: dict[str, Any]) -> list[str]:
    """A short block for ``stackmedic status``: the summary, where cgroups are, problems."""
    lines = ["host: " + " · ".join(summary_parts(host))]
    cgroup, resources = host.get("cgroup") or {}, host.get("resources") or {}
    where = cgroup.get("example") or cgroup.get("pattern")
    if where:
        lines.append(f"  container cgroups: {where}")
    if resources.get("reason"):
        lines.append(f"  resources: {resources['reason']}")
    for problem in host.get("problems") or []:
        lines.append(f"  problem: {problem['what']}")
        lines.append(f"    fix: {problem['fix']}")
    return lines
