"""The README's `make run`: sets up and starts the agent on its embedded defaults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from support.agent import free_port
from support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker  # the example deployment runs on the host's daemon


def test_make_run_answers_healthz_and_lists_the_example(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STACKMEDIC_")}
    env.update({"STACKMEDIC_API__PORT": str(port), "STACKMEDIC_DATA_DIR": str(tmp_path / "data")})
    log = (tmp_path / "make-run.log").open("wb")
    proc = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def healthz() -> dict[str, object] | None:
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "make-run.log").read_text()[-3000:])
            try:
                body: dict[str, object] = httpx.get(
                    f"http://127.0.0.1:{port}/healthz", timeout=2).json()
            except httpx.TransportError:
                return None
            return body

        body = wait_until(healthz, 300, interval=0.2, message="make run serves /healthz")
        assert body["status"] == "ok"
        # It says where the dashboard is and where the token to log in with is kept.
        told = (tmp_path / "make-run.log").read_text()
        ready = next(line for line in told.splitlines() if "dashboard ready" in line)
        assert f"http://127.0.0.1:{port}/" in ready, ready
        assert str(tmp_path / "data" / "api-token") in ready, ready

        def status() -> str | None:
            result = subprocess.run(
                [sys.executable, "-m", "stackmedic", "status"], cwd=ROOT, env=env,
                capture_output=True, text=True, timeout=60, check=False,
            )
            return result.stdout if "example" in result.stdout else None

        table = wait_until(status, 60, interval=0.2, message="example listed")
        assert table.splitlines()[0].split()[:4] == ["DEPLOYMENT", "DESIRED", "SOURCE", "OBSERVED"]
        example = next(line.split() for line in table.splitlines()[1:]
                       if line.split()[0] == "example")
        # The relative default folder works: the example's compose file is read, not invalid.
        assert example[1:4] == ["stopped", "first-seen", "stopped"], table
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(20) in (0, 2, -signal.SIGTERM)
        log.close()
