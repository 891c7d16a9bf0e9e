"""Writes the constructed cgroup v2 fixtures (run: python -m tests.resources.construct_fixtures).

These trees are built, not recorded: each file follows the format documented in the kernel's
Documentation/admin-guide/cgroup-v2.rst (6.x), laid out where Docker and Podman put
containers with each driver. Their metadata says so. The cgroup v2 test VM (tests/vm)
records the real ones with scripts/capture-cgroup-fixture; a recording replaces its tree
here (the three Docker set-ups are recorded). The undelegated
rootless tree stays constructed: the VM delegates the controllers, as a host should.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent / "fixtures"
ROOT_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc\n"
SOURCE = "Documentation/admin-guide/cgroup-v2.rst (Linux 6.x)"


@dataclass
class Constructed:
    """One constructed fixture: where the container sits and what its files say."""

    name: str
    engine: str
    driver: str
    rootless: bool
    cgroup: str
    usage_usec: int
    memory_current: int
    inactive_file: int
    memory_max: str
    cpu_max: str
    cpuset: str
    oom_kill: int
    extra: dict[str, str] = field(default_factory=dict)  # more files, relative to the tree
    delegated: bool = True
    expected_limits: tuple[float | None, int | None] = (None, None)


def memory_stat(current: int, inactive_file: int) -> str:
    anon = current - inactive_file - 4_096_000
    keys = [
        ("anon", anon), ("file", inactive_file + 2_048_000), ("kernel", 1_212_416),
        ("kernel_stack", 147_456), ("pagetables", 389_120), ("sec_pagetables", 0),
        ("percpu", 2_880), ("sock", 0), ("vmalloc", 0), ("shmem", 0), ("zswap", 0),
        ("zswapped", 0), ("file_mapped", 1_507_328), ("file_dirty", 0), ("file_writeback", 0),
        ("swapcached", 0), ("anon_thp", 0), ("file_thp", 0), ("shmem_thp", 0),
        ("inactive_anon", anon - 8_192), ("active_anon", 8_192),
        ("inactive_file", inactive_file), ("active_file", 2_048_000), ("unevictable", 0),
        ("slab_reclaimable", 401_208), ("slab_unreclaimable", 262_440), ("slab", 663_648),
        ("workingset_refault_anon", 0), ("workingset_refault_file", 12),
        ("workingset_activate_anon", 0), ("workingset_activate_file", 3),
        ("workingset_restore_anon", 0), ("workingset_restore_file", 0),
        ("workingset_nodereclaim", 0), ("pgscan", 0), ("pgsteal", 0), ("pgfault", 91_263),
        ("pgmajfault", 41), ("thp_fault_alloc", 0), ("thp_collapse_alloc", 0),
    ]
    return "".join(f"{k} {v}\n" for k, v in keys)


def container_files(c: Constructed) -> dict[str, str]:
    base = c.cgroup
    files = {
        f"{base}/cpu.stat": (
            f"usage_usec {c.usage_usec}\nuser_usec {c.usage_usec * 3 // 4}\n"
            f"system_usec {c.usage_usec - c.usage_usec * 3 // 4}\n"
            "core_sched.force_idle_usec 0\nnr_periods 5120\nnr_throttled 311\n"
            "throttled_usec 9216000\nnr_bursts 0\nburst_usec 0\n"
        ),
        f"{base}/cgroup.events": "populated 1\nfrozen 0\n",
        f"{base}/cgroup.procs": "4242\n",
    }
    if c.delegated:
        files.update({
            f"{base}/memory.current": f"{c.memory_current}\n",
            f"{base}/memory.stat": memory_stat(c.memory_current, c.inactive_file),
            f"{base}/memory.events": (
                f"low 0\nhigh 0\nmax {c.oom_kill * 37}\noom {c.oom_kill}\n"
                f"oom_kill {c.oom_kill}\noom_group_kill 0\n"
            ),
            f"{base}/memory.max": f"{c.memory_max}\n",
            f"{base}/cpu.max": f"{c.cpu_max}\n",
            f"{base}/cpuset.cpus.effective": f"{c.cpuset}\n",
        })
    return files


FIXTURES = [
    Constructed(
        "cgroup2-rootless-undelegated-docker", "docker", "systemd", True,
        "user.slice/user-1000.slice/user@1000.service/user.slice/docker-" + "a1" * 32 + ".scope",
        usage_usec=720_000, memory_current=0, inactive_file=0,
        memory_max="max", cpu_max="max 100000", cpuset="0-1", oom_kill=0, delegated=False,
        extra={"user.slice/user-1000.slice/user@1000.service/cgroup.controllers": "pids\n"},
    ),
    Constructed(
        "cgroup2-systemd-podman", "podman", "systemd", False,
        "machine.slice/libpod-" + "7d" * 32 + ".scope",
        usage_usec=311_000_500, memory_current=1_073_741_824, inactive_file=268_435_456,
        memory_max="2147483648", cpu_max="200000 100000", cpuset="0-3", oom_kill=0,
        extra={"machine.slice/libpod-conmon-" + "7d" * 32 + ".scope/cgroup.procs": "902\n"},
        expected_limits=(2.0, 2_147_483_648),
    ),
    Constructed(
        "cgroup2-rootless-podman", "podman", "systemd", True,
        "user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + "b2" * 32 + ".scope",
        usage_usec=42_000_000, memory_current=52_428_800, inactive_file=4_194_304,
        memory_max="max", cpu_max="max 100000", cpuset="0-3", oom_kill=3,
        extra={
            "user.slice/user-1000.slice/user@1000.service/cgroup.controllers":
                "cpuset cpu io memory pids\n",
        },
        expected_limits=(4.0, None),
    ),
]


def write(c: Constructed) -> None:
    folder = HERE / c.name
    tree = folder / "tree"
    files = {"cgroup.controllers": ROOT_CONTROLLERS, "cgroup.subtree_control": ROOT_CONTROLLERS}
    files.update(container_files(c))
    files.update(c.extra)
    for rel, text in files.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    cores, memory = c.expected_limits
    expected: dict[str, object] = {"cpu_usage_ns": c.usage_usec * 1000}
    if c.delegated:
        expected.update(
            memory_usage_bytes=c.memory_current, inactive_file_bytes=c.inactive_file,
            working_set_bytes=c.memory_current - c.inactive_file,
            memory_limit_bytes=memory, cpu_limit_cores=cores, oom_kills=c.oom_kill,
        )
    metadata = {
        "how": "constructed, not recorded",
        "constructed_with": "tests/resources/construct_fixtures.py",
        "formats_from": SOURCE,
        "kernel": None,
        "systemd": None,
        "engine": {"kind": c.engine, "rootless": c.rootless, "cgroup_driver": c.driver,
                   "cgroup_version": "2"},
        "cgroup_version": 2,
        "container": {"id": c.cgroup.rsplit("-", 1)[-1].split("/")[-1].removesuffix(".scope"),
                      "cgroup": c.cgroup},
        "rootless_uid": 1000 if c.rootless else None,
        "delegated": c.delegated,
        "expected": expected,
        "engine_stats": None,
    }
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    (folder / "README.md").write_text(
        f"# {c.name}\n\n**Constructed, not recorded** (no recording of this set-up is kept "
        f"yet). The files follow {SOURCE}; the container sits where "
        f"{c.engine} ({'rootless' if c.rootless else 'rootful'}, {c.driver} driver) puts it: "
        f"`{c.cgroup}`.\n\nReplace it with a recording from a real host or the cgroup v2 test "
        "VM (`tests/vm`, `STACKMEDIC_VM_KEEP=DIR`): "
        "`scripts/capture-cgroup-fixture CONTAINER tests/resources/fixtures/NEW-NAME`.\n"
    )


if __name__ == "__main__":
    for fixture in FIXTURES:
        write(fixture)
        print(f"wrote {fixture.name}")
