"""What host the agent runs on: engine, cgroups, resource source, Compose, and what cannot work.

The report's value objects only: ``stackmedic status`` renders the report with them and
must start fast, so the inspector (which reads the engine and the cgroup tree, and imports
what that takes) is imported from ``stackmedic.hostinfo.inspector`` where it is used.
"""

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
    "HostReport",
    "Problem",
    "ResourceSourceFacts",
]
