"""The pure verdict function: one deployment's state in, verdict and reason out."""

from __future__ import annotations

from typing import Any

import pytest

from stackmedic.health.model import CrashLoop, ServiceStatus, Verdict
from stackmedic.health.verdict import HealthInputs, evaluate
from stackmedic.types import DesiredState

from .factories import NOW, container, deployment

RUNNING = DesiredState.RUNNING
STOPPED = DesiredState.STOPPED


def judge(
    services: tuple[str, ...],
    containers: list[Any],
    desired: DesiredState | None = RUNNING,
    **extra: Any,
) -> Any:
    return evaluate(HealthInputs(deployment(*services), containers, desired, NOW, **extra))


def test_all_services_running_is_healthy() -> None:
    health = judge(("web", "db"), [container("web"), container("db")])
    assert health.verdict is Verdict.HEALTHY
    assert health.reason == "all 2 services running"
    assert [s.status for s in health.services] == [ServiceStatus.RUNNING] * 2


def test_exit_code_is_named_in_the_reason() -> None:
    health = judge(
        ("web", "api"),
        [container("web"), container("api", "exited", exit_code=3, restart_policy="no")],
    )
    assert health.verdict is Verdict.DEGRADED
    assert health.reason == "api exited with code 3"
    api = health.service("api")
    assert api is not None and api.status is ServiceStatus.EXITED and api.exit_code == 3


def test_a_start_that_failed_is_named_in_the_reason() -> None:
    error = ('failed to create shim task: OCI runtime create failed: exec: "/nonexistent": '
             "stat /nonexistent: no such file or directory")
    health = judge(("web",), [container("web", "created", exit_code=127, error=error)])
    assert health.verdict is Verdict.DOWN
    assert health.reason == f"web created (start failed: {error})"
    assert health.services[0].start_error == error


def test_nothing_running_while_wanted_is_down() -> None:
    health = judge(("api",), [container("api", "exited", exit_code=137, oom_killed=True)])
    assert health.verdict is Verdict.DOWN
    assert health.reason == "api exited with code 137 (OOM killed)"


def test_declared_service_without_container_is_missing() -> None:
    health = judge(("web", "worker"), [container("web")])
    assert health.verdict is Verdict.DEGRADED
    assert health.reason == "worker missing"


def test_unhealthy_service_carries_probe_output() -> None:
    health = judge(
        ("web",), [container("web", health="unhealthy", health_output="probe failed: 503\nmore")]
    )
    assert health.verdict is Verdict.DEGRADED
    assert health.reason == "web unhealthy: probe failed: 503"
    web = health.service("web")
    assert web is not None and web.health_output == "probe failed: 503\nmore"


def test_restarting_service_degrades_while_others_serve() -> None:
    health = judge(("web", "db"), [container("web"), container("db", "restarting", exit_code=1)])
    assert health.verdict is Verdict.DEGRADED
    assert health.reason == "db restarting"


def test_desired_stopped_is_stopped_whatever_the_containers_say() -> None:
    gone = judge(("web",), [container("web", "exited", exit_code=137)], STOPPED)
    assert gone.verdict is Verdict.STOPPED
    assert gone.services[0].status is ServiceStatus.STOPPED
    none = judge(("web",), [], STOPPED)
    assert none.verdict is Verdict.STOPPED and none.reason == "stopped as desired"


def test_service_stopped_on_purpose_does_not_degrade() -> None:
    health = judge(
        ("web", "worker"),
        [container("web"), container("worker", "exited", exit_code=143)],
        service_desired={"worker": STOPPED},
    )
    assert health.verdict is Verdict.HEALTHY
    assert health.reason == "1 of 2 services running; worker stopped as desired"


def test_one_shot_job_that_completed_is_fine() -> None:
    health = judge(
        ("web", "migrate"), [container("web"), container("migrate", "exited", exit_code=0)]
    )
    assert health.verdict is Verdict.HEALTHY
    assert health.service("migrate").status is ServiceStatus.COMPLETED  # type: ignore[union-attr]


def test_clean_exit_under_restart_always_is_not_completed() -> None:
    health = judge(("web",), [container("web", "exited", exit_code=0, restart_policy="always")])
    assert health.verdict is Verdict.DOWN


def test_unreachable_engine_is_unknown_and_invalid_file_is_invalid() -> None:
    unknown = judge(("web",), [container("web")], reachable=False, engine_error="refused")
    assert (unknown.verdict, unknown.reason) == (Verdict.UNKNOWN, "Docker unreachable: refused")
    not_read = judge(("web",), [container("web")], synced=False)
    assert not_read.verdict is Verdict.UNKNOWN
    broken = evaluate(
        HealthInputs(deployment("web", error="yaml: line 3: bad\nmore"), [], RUNNING, NOW)
    )
    assert (broken.verdict, broken.reason) == (
        Verdict.INVALID,
        "compose file invalid: yaml: line 3: bad",
    )


def test_grace_period_reports_starting_and_rechecks_when_it_ends() -> None:
    health = judge(("web", "db"), [container("web", health="starting")], starting_until=NOW + 30)
    assert health.verdict is Verdict.STARTING
    assert health.recheck_at == NOW + 30
    assert "db missing" in health.reason and "web starting" in health.reason
    after = judge(("web", "db"), [container("web", health="starting")], starting_until=NOW - 1)
    assert after.verdict is Verdict.DEGRADED


def test_grace_period_does_not_hide_a_failing_exit() -> None:
    health = judge(("web",), [container("web", "exited", exit_code=2)], starting_until=NOW + 30)
    assert health.verdict is Verdict.DOWN


def test_grace_period_with_everything_up_is_healthy_at_once() -> None:
    assert judge(("web",), [container("web")], starting_until=NOW + 30).verdict is Verdict.HEALTHY


def test_crash_loop_overrides_the_momentary_status() -> None:
    loop = CrashLoop(crashes=4, exit_codes=(1, 1, 2, 1), last_at=NOW - 1, until=NOW + 100)
    health = judge(
        ("web", "db"),
        [container("web"), container("db", restart_count=4)],
        crash_loops={"db": loop},
    )
    db = health.service("db")
    assert db is not None and db.status is ServiceStatus.CRASH_LOOPING
    assert db.exit_codes == (1, 1, 2, 1)
    assert health.verdict is Verdict.DEGRADED
    assert health.reason == "db crash-looping (exit codes 1, 1, 2, 1)"
    assert health.recheck_at == NOW + 100


def test_worst_container_of_a_scaled_service_decides() -> None:
    health = judge(
        ("web",), [container("web", number=1), container("web", "exited", number=2, exit_code=1)]
    )
    assert health.verdict is Verdict.DEGRADED
    assert health.reason == "web exited with code 1 (1/2 containers running)"


def test_signature_ignores_wording_but_not_statuses() -> None:
    a = judge(("web",), [container("web", health="unhealthy", health_output="x")])
    b = judge(("web",), [container("web", health="unhealthy", health_output="y")])
    c = judge(("web",), [container("web")])
    assert a.reason != b.reason and a.signature() == b.signature()
    assert a.signature() != c.signature()


@pytest.mark.parametrize(
    ("desired", "expected"), [(None, Verdict.HEALTHY), (STOPPED, Verdict.STOPPED)]
)
def test_no_desired_state_yet_takes_what_is_seen(
    desired: DesiredState | None, expected: Verdict
) -> None:
    assert judge(("web",), [container("web")], desired).verdict is expected


def test_without_declared_services_the_containers_define_them() -> None:
    health = judge((), [container("a"), container("b", "exited", exit_code=5)])
    assert [s.name for s in health.services] == ["a", "b"]
    assert health.reason == "b exited with code 5"


def test_a_paused_deployment_is_paused_never_ill() -> None:
    health = judge(("web",), [container("web", "paused", health="unhealthy")])
    assert health.verdict is Verdict.PAUSED
    assert not health.verdict.ill and health.verdict.fine  # ends an episode, as a stop does
    assert health.reason == "paused: web"
    assert health.service("web").status is ServiceStatus.PAUSED  # type: ignore[union-attr]


def test_one_paused_service_of_two_makes_the_deployment_paused_naming_what_runs() -> None:
    health = judge(("web", "db"), [container("web"), container("db", "paused")])
    assert health.verdict is Verdict.PAUSED
    assert health.reason == "paused: db; web running"


def test_a_paused_service_beside_a_failure_keeps_the_failure_and_names_the_pause() -> None:
    health = judge(("web", "db"), [container("web", "exited", exit_code=3, restart_policy="no"),
                                   container("db", "paused")])
    assert health.verdict is Verdict.DOWN
    assert health.reason == "web exited with code 3; db paused"


def test_unhealthy_after_unpause_is_starting_until_its_next_check() -> None:
    web = container("web", health="unhealthy")
    assert judge(("web",), [web]).verdict is Verdict.DEGRADED
    health = judge(("web",), [web], unpaused=frozenset({web.id}))
    assert health.verdict is Verdict.STARTING


def test_own_recovery_shows_as_starting_with_what_it_mends() -> None:
    health = judge(("web",), [container("web", "created")],
                   recovering="stackmedic is recovering it")
    assert health.verdict is Verdict.STARTING
    assert health.reason == "starting: stackmedic is recovering it: web created"
    healthy = judge(("web",), [container("web")], recovering="stackmedic is recovering it")
    assert healthy.verdict is Verdict.HEALTHY
