"""`make run` installs what running needs and nothing of the test tools (read from make -n)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def plan(target: str, tmp_path: Path) -> list[str]:
    """The commands ``make TARGET`` would run from a fresh clone (no venv yet)."""
    # Under `make test` the suite runs inside make: without its variables the plan has no
    # "Entering directory" lines around it.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", target, f"VENV={tmp_path}/venv"], cwd=ROOT,
        capture_output=True, text=True, timeout=60, check=True, env=env)
    return result.stdout.splitlines()


def test_make_run_installs_the_package_alone_and_make_test_adds_the_tools(
        tmp_path: Path) -> None:
    run = plan("run", tmp_path)
    installs = [line for line in run if " install " in line]
    assert any(line.endswith("pip install --quiet -e .") for line in installs), run
    assert not [line for line in installs if "[test]" in line], run
    assert "ensure-system-deps" not in "\n".join(run)
    assert run[-1].strip().endswith("stackmedic run"), run
    test = plan("test", tmp_path)
    assert any("[test]" in line for line in test), test
