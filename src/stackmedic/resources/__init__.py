"""Host and per-container resource sampling, history and sustained spike rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackmedic.lazy import lazy_exports

if TYPE_CHECKING:
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
    from stackmedic.resources.reporting import AlertCallback, OomCallback
    from stackmedic.resources.rules import RuleEngine
    from stackmedic.resources.service import ResourceMonitor
    from stackmedic.resources.targets import TargetsProvider, running_containers

# Loaded on first access, so that importing one light module of this package (a
# config model, say) does not load the heavy ones and their libraries.
_LAZY = {
    "CgroupLayout": "stackmedic.resources.cgroups",
    "detect_layout": "stackmedic.resources.cgroups",
    "ResourcesConfig": "stackmedic.resources.config",
    "SpikeRule": "stackmedic.resources.config",
    "default_rules": "stackmedic.resources.config",
    "Consumer": "stackmedic.resources.models",
    "ContainerRef": "stackmedic.resources.models",
    "ContainerSample": "stackmedic.resources.models",
    "DiskUsage": "stackmedic.resources.models",
    "HostSample": "stackmedic.resources.models",
    "Snapshot": "stackmedic.resources.models",
    "SpikeAlert": "stackmedic.resources.models",
    "RuleEngine": "stackmedic.resources.rules",
    "AlertCallback": "stackmedic.resources.reporting",
    "OomCallback": "stackmedic.resources.reporting",
    "ResourceMonitor": "stackmedic.resources.service",
    "TargetsProvider": "stackmedic.resources.targets",
    "running_containers": "stackmedic.resources.targets",
}

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


__getattr__ = lazy_exports(globals(), _LAZY)
