"""The probe tests of a module share one private dockerd (as the matrix rows do)."""

from __future__ import annotations

from matrix.conftest import private_dockerd, shared_dockerd

__all__ = ["private_dockerd", "shared_dockerd"]
