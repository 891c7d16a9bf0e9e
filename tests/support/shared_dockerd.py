"""One private dockerd per test module: import both fixtures into a folder's conftest.

Starting a daemon costs seconds; the tests of one module run one after another on the same
daemon, each with deployments of its own (removed at its end) and an agent of its own. A
test that stops or restarts the daemon leaves it started again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.dockerd import PrivateDockerd, started_private_dockerd


@pytest.fixture(scope="module")
def shared_dockerd(busybox_image: str) -> Iterator[PrivateDockerd]:
    """One private dockerd for every test of a module."""
    with started_private_dockerd(busybox_image) as daemon:
        yield daemon


@pytest.fixture
def private_dockerd(shared_dockerd: PrivateDockerd) -> Iterator[PrivateDockerd]:
    """The module's daemon, started again should a test have left it stopped."""
    if not shared_dockerd.is_running():
        shared_dockerd.start()
    yield shared_dockerd
    if not shared_dockerd.is_running():
        shared_dockerd.start()
