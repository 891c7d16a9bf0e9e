"""The built-in diagnosis rules, the limits policy and restart classification (pure)."""

from __future__ import annotations

import pytest

from stackmedic.deployments.model import Deployment, DeploymentKind, ServiceSpec
from stackmedic.observe.boot import RestartKind, classify
from stackmedic.observe.containers import ContainerState
from stackmedic.recovery.config import RecoveryConfig
from stackmedic.recovery.evidence import (
    Evidence,
    ServiceEvidence,
    dependency_order,
    service_evidence,
)
from stackmedic.recovery.policy import Phase, RecoveryPolicy, RecoveryState
from stackmedic.recovery.rules import diagnose
from stackmedic.recovery.suggestions import ServiceAction, validate_suggestions


def service(name: str = "web", status: str = "exited", **kw: object) -> ServiceEvidence:
    defaults: dict[str, object] = dict(
        desired="running", recover=True, image="site:1", image_present=True,
        has_build=False, restart_policy=None, has_healthcheck=False,
    )
    defaults.update(kw)
    return ServiceEvidence(name=name, status=status, **defaults)  # type: ignore[arg-type]


def evidence(*services: ServiceEvidence, **kw: object) -> Evidence:
    defaults: dict[str, object] = dict(
        deployment="shop", project="shop", verdict="down", reason="", compose_valid=True,
        compose_error=None, external_networks=[], missing_networks=[],
    )
    defaults.update(kw)
    return Evidence(services={s.name: s for s in services}, **defaults)  # type: ignore[arg-type]


def actions(e: Evidence) -> list[tuple[str, ServiceAction]]:
    return [(s.service, s.action) for s in diagnose(e).suggestions]


def test_exited_without_restart_policy_is_started() -> None:
    d = diagnose(evidence(service(exit_code=3)))
    assert [(s.service, s.action) for s in d.suggestions] == [("web", ServiceAction.START)]
    assert "exited with code 3" in d.summary
    assert "no restart policy" in d.summary


@pytest.mark.parametrize("policy", ["always", "unless-stopped", "on-failure"])
def test_a_loop_docker_keeps_restarting_gets_one_fresh_container_never_a_restart(
    policy: str
) -> None:
    looping = service(status="crash-looping", exit_codes=[3, 3, 3], restart_policy=policy,
                      docker_restarts=True)
    d = diagnose(evidence(looping))
    assert actions(evidence(looping)) == [("web", ServiceAction.RECREATE)]
    assert d.summary == (f"web crash-looping (exit codes 3, 3, 3) while Docker's restart "
                         f"policy ({policy}) restarts it")
    waiting = service(status="restarting", restart_policy=policy, docker_restarts=True)
    assert actions(evidence(waiting)) == []  # Docker's restart is under way: not raced


def test_a_loop_the_policy_no_longer_restarts_is_started_as_without_one() -> None:
    given_up = service(status="crash-looping", exit_codes=[3, 3, 3],
                       restart_policy="on-failure:2")
    d = diagnose(evidence(given_up))
    assert [(s.service, s.action) for s in d.suggestions] == [("web", ServiceAction.START)]
    assert "does not restart it any more" in d.summary


def test_unhealthy_is_restarted_with_probe_output() -> None:
    d = diagnose(evidence(service(status="unhealthy", health_output="curl: refused")))
    assert actions(evidence(service(status="unhealthy"))) == [("web", ServiceAction.RESTART)]
    assert "curl: refused" in d.summary


def test_drift_is_recreated() -> None:
    assert actions(evidence(service(status="running-old", drifted=True))) == [
        ("web", ServiceAction.RECREATE)]


def test_missing_network_is_created_and_its_services_recreated() -> None:
    e = evidence(service(networks=["shared"]), service("db"), external_networks=["shared"],
                 missing_networks=["shared"])
    assert actions(e) == [("shared", ServiceAction.CREATE_NETWORK),
                          ("db", ServiceAction.START), ("web", ServiceAction.RECREATE)]


def test_services_on_a_recreated_network_are_recreated() -> None:
    e = evidence(service(networks=["shared"]), external_networks=["shared"],
                 recreated_networks=["shared"])
    assert actions(e) == [("web", ServiceAction.RECREATE)]


@pytest.mark.parametrize(("has_build", "expected"), [(False, ServiceAction.PULL),
                                                     (True, ServiceAction.REBUILD)])
def test_missing_image_is_pulled_or_rebuilt(has_build: bool, expected: ServiceAction) -> None:
    e = evidence(service(image_present=False, has_build=has_build))
    assert actions(e) == [("web", expected)]


def test_repeated_oom_needs_a_person() -> None:
    d = diagnose(evidence(service(oom_killed=True, oom_kills_recent=2, exit_code=137)))
    assert d.suggestions == []
    assert d.needs_human is not None and "OOM-killed 2 times" in d.needs_human


@pytest.mark.parametrize("status", ["crash-looping", "restarting"])
def test_an_oom_loop_read_between_two_kills_needs_a_person(status: str) -> None:
    # CI, the matrix: `restart: always`, read while Docker had just started it again (its
    # OOM flag reset): the loop rule recreated it, racing Docker.
    d = diagnose(evidence(service(status=status, oom_killed=False, oom_kills_recent=3,
                                  restart_policy="always", docker_restarts=True,
                                  exit_codes=[137, 137, 137])))
    assert d.suggestions == []
    assert d.needs_human is not None and "OOM-killed 3 times" in d.needs_human


def test_an_old_oom_kill_does_not_hold_a_later_exit() -> None:
    d = diagnose(evidence(service(status="exited", oom_killed=False, oom_kills_recent=2,
                                  exit_code=1)))
    assert [s.action for s in d.suggestions] == [ServiceAction.START]


def test_invalid_compose_file_needs_a_person() -> None:
    d = diagnose(evidence(service(), compose_valid=False, compose_error="yaml: line 3"))
    assert d.suggestions == []
    assert d.needs_human == "compose file invalid"
    assert "yaml: line 3" in d.summary


def test_stopped_and_opted_out_services_are_left_alone() -> None:
    e = evidence(service("a", desired="stopped"), service("b", recover=False), service("c"))
    assert actions(e) == [("c", ServiceAction.START)]


def test_dependencies_come_first() -> None:
    e = evidence(service("web", depends_on=["db"]), service("db"), service("cache"))
    assert [s for s, _ in actions(e)] == ["cache", "db", "web"]
    assert dependency_order({"a": ["b"], "b": ["a"]}) == ["b", "a"]


def test_suggestions_outside_the_allowlist_are_dropped() -> None:
    raw = [
        {"kind": "service_action", "service": "web", "action": "restart"},
        {"kind": "service_action", "service": "web", "action": "exec", "title": "rm -rf /"},
        {"kind": "shell", "service": "web", "action": "start"},
        {"kind": "service_action", "service": "other", "action": "start"},
        {"kind": "service_action", "service": "net1", "action": "create_network"},
        "garbage",
    ]
    kept, dropped = validate_suggestions(raw, services={"web"}, networks={"net1"})
    assert [(s.service, s.action) for s in kept] == [
        ("web", ServiceAction.RESTART), ("net1", ServiceAction.CREATE_NETWORK)]
    assert len(dropped) == 4


def test_backoff_doubles_up_to_the_maximum_then_budget_gives_up() -> None:
    policy = RecoveryPolicy(RecoveryConfig(backoff_initial_seconds=10, backoff_max_seconds=35,
                                           attempt_budget=3, budget_window_seconds=1000))
    state = RecoveryState("shop")
    now = 0.0
    waits = []
    for _ in range(3):
        wait = policy.wait_before_next(state, now)
        assert wait is not None
        now += wait
        waits.append(wait)
        policy.attempted(state, now, succeeded=False)
    assert waits == [0.0, 10.0, 20.0]
    assert policy.backoff(3) == 35
    assert policy.wait_before_next(state, now + 100) is None  # budget spent in the window
    assert policy.wait_before_next(state, now + 2000) == 0.0  # window passed
    policy.give_up(state, now, "no luck")
    assert state.phase == Phase.GAVE_UP
    assert policy.wait_before_next(state, now + 5000) is None
    policy.reset(state)
    assert policy.wait_before_next(state, now) == 0.0


@pytest.mark.parametrize(
    ("stored_boot", "boot", "stored_daemon", "daemon", "kind"),
    [
        (None, "b1", None, "d1", RestartKind.FIRST_RUN),
        ("b1", "b2", "d1", "d2", RestartKind.HOST),
        ("b1", "b1", "d1", "d2", RestartKind.DAEMON),
        ("b1", "b1", "d1", "d1", RestartKind.AGENT),
        ("b1", "b1", "d1", None, RestartKind.AGENT),
    ],
)
def test_restart_classification(stored_boot: str | None, boot: str, stored_daemon: str | None,
                                daemon: str | None, kind: RestartKind) -> None:
    assert classify(stored_boot=stored_boot, current_boot=boot, stored_daemon=stored_daemon,
                    current_daemon=daemon) == kind


def test_a_sidecar_never_looks_drifted_for_the_container_id_in_its_hash() -> None:
    # Compose hashes `network_mode: service:main` with main's container id filled in, so
    # `config --hash` never matches a sidecar's label; a plain service's mismatch is drift.
    deployment = Deployment(name="pair", project="pair", kind=DeploymentKind.FOLDER, path=None,
                            files=[], services={
        "main": ServiceSpec("main"), "side": ServiceSpec("side", network_mode="service:main")})
    containers = [ContainerState(id=f"{n}1", name=f"pair-{n}-1", project="pair", service=n,
                                 status="exited", config_hash=f"label-{n}")
                  for n in ("main", "side")]
    found = service_evidence(deployment, None, containers, images_present={},
                             desired={"main": "running", "side": "running"},
                             expected_hashes={"main": "file-main", "side": "file-side"})
    assert found["main"].drifted is True
    assert found["side"].drifted is False
