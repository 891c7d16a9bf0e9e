"""What Docker's restart policy brings back at daemon start, and what a reconcile waits for."""

from __future__ import annotations

import pytest

from stackmedic.deployments.model import go_duration, services_from_config
from stackmedic.observe.containers import ContainerState
from stackmedic.recovery.config import RecoveryConfig, boot_parallelism
from stackmedic.recovery.docker_part import awaiting_docker, docker_restarts


def _container(policy: str, status: str = "exited", exit_code: int | None = 0,
               service: str = "app") -> ContainerState:
    return ContainerState(id=f"{service}-{policy}", name=service, project="p", service=service,
                          status=status, exit_code=exit_code, restart_policy=policy)


@pytest.mark.parametrize(("policy", "status", "code", "docker_brings_it_back"), [
    ("always", "exited", 0, True),
    ("always", "exited", 137, True),
    ("unless-stopped", "exited", 143, True),
    ("on-failure", "exited", 143, True),
    ("on-failure", "exited", 0, False),  # a clean exit is done by on-failure's terms
    ("no", "exited", 137, False),
    ("no", "restarting", 3, True),  # whatever the policy says, Docker is at it
    ("always", "running", None, False),
])
def test_docker_restarts_what_its_policy_asks_for(policy: str, status: str, code: int | None,
                                                  docker_brings_it_back: bool) -> None:
    assert docker_restarts(_container(policy, status, code)) is docker_brings_it_back


def test_a_reconcile_waits_only_for_the_services_docker_still_brings_back() -> None:
    containers = [_container("no", service="web"), _container("always", service="db"),
                  _container("always", "running", None, service="cache")]
    assert awaiting_docker(containers) == ["db"]


@pytest.mark.parametrize(("value", "seconds"), [
    ("15s", 15.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), (30_000_000_000, 30.0),
    (None, 0.0), ("soon", 0.0),
])
def test_compose_durations_are_read_as_seconds(value: object, seconds: float) -> None:
    assert go_duration(value) == pytest.approx(seconds)


def test_a_service_is_ready_within_its_healthchecks_start_period() -> None:
    specs = services_from_config({"services": {
        "slow": {"image": "x", "healthcheck": {"test": ["CMD", "true"], "start_period": "12s"}},
        "off": {"image": "x", "healthcheck": {"disable": True, "start_period": "12s"}},
        "plain": {"image": "x"},
    }})
    assert {n: s.ready_within for n, s in specs.items()} == {
        "slow": 12.0, "off": 0.0, "plain": 0.0}


@pytest.mark.parametrize(("cores", "expected"), [(1, 4), (2, 4), (4, 8), (8, 16), (64, 16)])
def test_boot_parallelism_follows_the_cores_unless_set(cores: int, expected: int) -> None:
    assert boot_parallelism(RecoveryConfig(), cores) == expected
    assert boot_parallelism(RecoveryConfig(boot_parallelism=3), cores) == 3
