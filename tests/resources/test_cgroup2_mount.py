"""cgroup v2 on this kernel: a cgroup2 tree mounted in a private mount namespace.

This host binds every controller to v1, so a cgroup2 mount has only the core files; the v2
CPU counter (`cpu.stat` `usage_usec`) is real, and it must equal the v1 `cpuacct.usage` of
the same container. Memory files are missing, so the v2 layout must not claim the container
(the sampler then falls back to the stats API).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .dockerkit import Containers, docker

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                       reason="mounting a cgroup2 tree needs root and unshare"),
]

# Runs inside `unshare -m`: mount cgroup2 at a private point and read as the agent would.
PROBE = """
import json, subprocess, sys, tempfile
from pathlib import Path
from stackmedic.resources.cgroup_reader import cpu_usage_ns
from stackmedic.resources.cgroups import detect_layout
point = Path(tempfile.mkdtemp(prefix="smcg2"))
subprocess.run(["mount", "-t", "cgroup2", "none", str(point)], check=True)
try:
    layout = detect_layout(point, "cgroupfs")
    located = layout.locate(sys.argv[1])
    print(json.dumps({
        "version": layout.version,
        "pattern": located.pattern,
        "directory": str(located.directory.relative_to(point)),
        "missing": located.missing(),
        "claimed": layout.container_files(sys.argv[1]) is not None,
        "cpu_ns": cpu_usage_ns(located.cpu_usage.read_bytes(), 2),
    }))
finally:
    subprocess.run(["umount", str(point)], check=True)
    point.rmdir()
"""


def test_v2_core_files_on_this_kernel_match_the_v1_counters(
    resource_containers: Containers,
) -> None:
    cid = resource_containers.run("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 3600")
    docker("pause", cid)  # a still counter: both hierarchies must show the same figure
    try:
        done = subprocess.run(
            ["unshare", "-m", "--propagation", "private", sys.executable, "-c", PROBE, cid],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout)
        v1_ns = int(Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage").read_text())
    finally:
        docker("unpause", cid, check=False)
    assert seen["version"] == 2
    assert (seen["pattern"], seen["directory"]) == ("docker/<id>", f"docker/{cid}")
    assert "memory.current" in seen["missing"] and seen["claimed"] is False
    assert seen["cpu_ns"] > 0
    assert seen["cpu_ns"] == pytest.approx(v1_ns, rel=0.05)
