"""Fixtures for the resource tests: a store in a temp folder and labelled test containers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiodocker
import pytest

from stackmedic.store import Database

from .dockerkit import Containers, ensure_image


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite store in a temp folder."""
    database = Database(tmp_path / "data" / "stackmedic.db")
    try:
        yield database
    finally:
        database.close()


@pytest.fixture(scope="module")
def resource_containers() -> Iterator[Containers]:
    """Starts labelled busybox containers; removes them after the module."""
    kit = Containers(ensure_image())
    try:
        yield kit
    finally:
        kit.cleanup()


@pytest.fixture
async def docker_client() -> AsyncIterator[aiodocker.Docker]:
    """An Engine API client, closed after the test."""
    client = aiodocker.Docker()
    try:
        yield client
    finally:
        await client.close()
