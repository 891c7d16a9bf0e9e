"""Keeps the store within its retention: old rows of the event log and the history go."""

from __future__ import annotations

from typing import Protocol

import structlog

log = structlog.get_logger(__name__)

DAY = 86400.0


class Prunable(Protocol):
    """A store part that can delete its rows older than a given age."""

    def prune(self, older_than_seconds: float) -> int:
        """Delete the old rows; return how many went."""


class Retention:
    """Prunes each part to the same retention (run it now and then)."""

    def __init__(self, days: float, **parts: Prunable) -> None:
        self._seconds = days * DAY
        self._parts = parts

    async def prune(self) -> None:
        """Delete what is older than the retention, part by part."""
        for name, part in self._parts.items():
            removed = part.prune(self._seconds)
            if removed:
                log.info("old rows pruned", part=name, removed=removed)
