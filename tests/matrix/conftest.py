"""The behaviour matrix's rows share one private dockerd per module.

Starting a daemon costs seconds; the rows of one module run one after another on the same
daemon, each with deployments of its own (removed at its end) and an agent of its own.
A row that stops or restarts the daemon leaves it started again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.dockerd import PrivateDockerd, started_private_dockerd


@pytest.fixture(scope="module")
def shared_dockerd(busybox_image: str) -> Iterator[PrivateDockerd]:
    """One private dockerd for every row of a module."""
    with started_private_dockerd(busybox_image) as daemon:
        yield daemon


@pytest.fixture
def private_dockerd(shared_dockerd: PrivateDockerd) -> Iterator[PrivateDockerd]:
    """The module's daemon, started again should a row have left it stopped."""
    if not shared_dockerd.is_running():
        shared_dockerd.start()
    yield shared_dockerd
    if not shared_dockerd.is_running():
        shared_dockerd.start()
