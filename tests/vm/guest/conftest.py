"""Inside the test VM: each set-up of ``STACKMEDIC_VM_SETUPS`` in turn, its engine started
with the test image loaded, and stopped before the next; deployments on it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.deployments import DeploymentFactory
from support.images import busybox_image_name

from .setups import SETUPS, Setup, load_image

ENGINE = Path(__file__).with_name("engine")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Print a failure at once: the whole run takes many minutes under emulation."""
    if report.failed and sys.__stdout__ is not None:
        sys.__stdout__.write(f"\nvm: {report.nodeid} failed ({report.when}):\n"
                             f"{report.longreprtext[-5000:]}\n")
        sys.__stdout__.flush()


def _engine(action: str, setup: Setup) -> None:
    done = subprocess.run(["bash", str(ENGINE), action, setup.name], capture_output=True,
                          text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{setup.name}: engine {action} failed: {done.stderr[-3000:]}")


@pytest.fixture(scope="session", params=os.environ.get("STACKMEDIC_VM_SETUPS", "").split())
def setup(request: pytest.FixtureRequest) -> Iterator[Setup]:
    """One engine set-up, running, holding the busybox test image."""
    chosen = SETUPS[request.param]
    started = time.monotonic()
    _engine("start", chosen)
    print(f"\nvm: {chosen.name}: engine up in {time.monotonic() - started:.0f} s", flush=True)
    try:
        load_image(chosen)
        yield chosen
    finally:
        _engine("stop", chosen)


@pytest.fixture
def factory(tmp_path: Path, setup: Setup) -> Iterator[DeploymentFactory]:
    """Deployments on the set-up's engine."""
    made = DeploymentFactory(root=tmp_path / "deployments", image=busybox_image_name(),
                             docker_host=setup.host)
    made.root.mkdir()
    try:
        yield made
    finally:
        made.cleanup()
