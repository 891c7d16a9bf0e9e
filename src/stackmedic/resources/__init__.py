"""Host and per-container resource sampling, history and sustained spike rules."""

from stackmedic.resources.cgroups import CgroupLayout, detect_layout
from stackmedic.resources.config import ResourcesConfig, SpikeRule, default_rules
from stackmedic.resources.models import (
    Consumer,
    ContainerRef,
    ContainerSample,
    DiskUsage,
    HostSample,
    Snapshot,
    SpikeAlert,
)
from stackmedic.resources.rules import RuleEngine
from stackmedic.resources.service import AlertCallback, OomCallback, ResourceMonitor
from stackmedic.resources.targets import TargetsProvider, running_containers

__all__ = [
    "AlertCallback",
    "CgroupLayout",
    "Consumer",
    "ContainerRef",
    "ContainerSample",
    "DiskUsage",
    "HostSample",
    "OomCallback",
    "ResourceMonitor",
    "ResourcesConfig",
    "RuleEngine",
    "Snapshot",
    "SpikeAlert",
    "SpikeRule",
    "TargetsProvider",
    "default_rules",
    "detect_layout",
    "running_containers",
]
