"""The engine connection as the intent tracker last heard of it on the bus."""

from __future__ import annotations

from dataclasses import dataclass

RESTORED = 0  # the connection number of stops left pending by an earlier agent run


@dataclass(frozen=True)
class EngineLink:
    """The engine connection as last told: up or not, its number, since when the daemon is."""

    connected: bool = False
    number: int = RESTORED  # connections since the agent started
    up_since: float = 0.0
