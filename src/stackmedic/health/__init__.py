"""Deployment health: verdicts from observed containers, crash loops, transitions, history."""

from stackmedic.health.answers import EngineView, engine_view
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

__all__ = [
    "CrashLoop",
    "CrashLoopTracker",
    "DeploymentHealth",
    "EngineView",
    "HealthEngine",
    "HealthInputs",
    "HealthTransition",
    "ServiceHealth",
    "ServiceStatus",
    "Verdict",
    "engine_view",
    "evaluate",
]
