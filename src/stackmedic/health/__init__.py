"""Deployment health: verdicts from observed containers, crash loops, transitions, history."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackmedic.lazy import lazy_exports

if TYPE_CHECKING:
    from stackmedic.health.answers import EngineView, engine_view
    from stackmedic.health.config import HealthConfig
    from stackmedic.health.crashloop import CrashLoopTracker
    from stackmedic.health.engine import HealthEngine
    from stackmedic.health.model import (
        CrashLoop,
        DeploymentHealth,
        HealthTransition,
        ServiceHealth,
        ServiceStatus,
        Verdict,
    )
    from stackmedic.health.verdict import HealthInputs, evaluate

# Loaded on first access, so that importing one light module of this package (a
# config model, say) does not load the heavy ones and their libraries.
_LAZY = {
    "EngineView": "stackmedic.health.answers",
    "engine_view": "stackmedic.health.answers",
    "HealthConfig": "stackmedic.health.config",
    "CrashLoopTracker": "stackmedic.health.crashloop",
    "HealthEngine": "stackmedic.health.engine",
    "CrashLoop": "stackmedic.health.model",
    "DeploymentHealth": "stackmedic.health.model",
    "HealthTransition": "stackmedic.health.model",
    "ServiceHealth": "stackmedic.health.model",
    "ServiceStatus": "stackmedic.health.model",
    "Verdict": "stackmedic.health.model",
    "HealthInputs": "stackmedic.health.verdict",
    "evaluate": "stackmedic.health.verdict",
}

__all__ = [
    "CrashLoop",
    "CrashLoopTracker",
    "DeploymentHealth",
    "EngineView",
    "HealthConfig",
    "HealthEngine",
    "HealthInputs",
    "HealthTransition",
    "ServiceHealth",
    "ServiceStatus",
    "Verdict",
    "engine_view",
    "evaluate",
]


__getattr__ = lazy_exports(globals(), _LAZY)
