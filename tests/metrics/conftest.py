"""Fixtures for the metrics tests: a migrated store in a temp folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stackmedic.store.db import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A fresh store file."""
    database = Database(tmp_path / "stackmedic.db")
    try:
        yield database
    finally:
        database.close()
