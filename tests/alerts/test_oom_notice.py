"""The down notice of an OOM-killed service names how many times it was OOM-killed."""

from __future__ import annotations

from stackmedic.alerts.messages import problem_event
from stackmedic.health.model import (
    DeploymentHealth,
    HealthTransition,
    ServiceHealth,
    ServiceStatus,
    Verdict,
)


def test_the_down_notice_names_the_oom_kill_count() -> None:
    api = ServiceHealth("api", ServiceStatus.EXITED, 1, 0, exit_code=137, oom_killed=True,
                        oom_kills=2)
    health = DeploymentHealth("shop", Verdict.DOWN, "api exited with code 137 (OOM killed)",
                              (api,))
    event = problem_event(HealthTransition("shop", Verdict.HEALTHY, health, 1.0e9),
                          recovery_note=None)
    assert event.details["oom_killed"] == "yes" and event.details["oom_kills"] == 2
