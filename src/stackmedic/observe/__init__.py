"""Observed state of every Compose container, kept current from engine events and sweeps."""

from stackmedic.observe.containers import ContainerState, parse_inspect
from stackmedic.observe.state import ObservedState

__all__ = ["ContainerState", "ObservedState", "parse_inspect"]
