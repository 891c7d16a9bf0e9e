"""What host the agent runs on: engine, cgroups, resource source, Compose, and what cannot work."""

from stackmedic.hostinfo.inspector import HostInspector
from stackmedic.hostinfo.model import (
    CgroupFacts,
    ComposeFacts,
    EngineFacts,
    HostReport,
    Problem,
    ResourceSourceFacts,
)

__all__ = [
    "CgroupFacts",
    "ComposeFacts",
    "EngineFacts",
    "HostInspector",
    "HostReport",
    "Problem",
    "ResourceSourceFacts",
]
