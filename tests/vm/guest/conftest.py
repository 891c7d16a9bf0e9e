"""Inside the test VM: the set-up under test (``STACKMEDIC_VM_SETUP``) and deployments on it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.deployments import DeploymentFactory
from support.images import busybox_image_name

from .setups import SETUPS, Setup


@pytest.fixture(scope="session")
def setup() -> Setup:
    """The engine set-up this guest run tests."""
    return SETUPS[os.environ["STACKMEDIC_VM_SETUP"]]


@pytest.fixture
def factory(tmp_path: Path, setup: Setup) -> Iterator[DeploymentFactory]:
    """Deployments on the set-up's engine (its image loaded by ``setups.py prepare``)."""
    made = DeploymentFactory(root=tmp_path / "deployments", image=busybox_image_name(),
                             docker_host=setup.host)
    made.root.mkdir()
    try:
        yield made
    finally:
        made.cleanup()
