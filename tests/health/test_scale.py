"""A scaled service's scale: kept by stackmedic's `compose up`, and judged by what is kept."""

from __future__ import annotations

from pathlib import Path

from stackmedic.deployments.scale import keep_scale, wanted_scales
from stackmedic.health.model import ServiceStatus, Verdict
from stackmedic.health.verdict import HealthInputs, evaluate
from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore, ScaleRecord
from stackmedic.types import DesiredState

from .factories import NOW, container, deployment

THREE = [container("app", number=n) for n in (1, 2, 3)]
IDS = frozenset(c.id for c in THREE)


def test_every_service_is_kept_at_the_containers_it_has() -> None:
    containers = [*THREE, container("db"), container("app", "exited", number=9, oneoff=True)]
    assert keep_scale(containers, ["app", "db", "gone"]) == ["--scale=app=3", "--scale=db=1"]
    assert keep_scale(containers, ["app"]) == ["--scale=app=3"]


def test_a_kept_count_holds_only_for_the_containers_it_was_recorded_for() -> None:
    records = {"app": ScaleRecord(2, IDS)}
    assert wanted_scales(records, THREE) == {"app": 2}
    assert keep_scale(THREE, ["app"], wanted_scales(records, THREE)) == ["--scale=app=2"]
    recreated = [*THREE[:2], container("app", number=4)]
    assert wanted_scales(records, recreated) == {}
    assert wanted_scales(records, THREE[:2]) == {}


def test_a_replica_stopped_on_purpose_leaves_the_service_healthy() -> None:
    stopped = container("app", "exited", number=3, exit_code=143, restart_policy="no")
    containers = [*THREE[:2], stopped]
    health = evaluate(HealthInputs(deployment("app"), containers, DesiredState.RUNNING, NOW,
                                   scales={"app": 2}))
    assert health.verdict is Verdict.HEALTHY, health.reason
    # Without the person's word it is one replica down.
    health = evaluate(HealthInputs(deployment("app"), containers, DesiredState.RUNNING, NOW))
    assert health.verdict is Verdict.DEGRADED


def test_fewer_running_than_kept_is_still_ill() -> None:
    containers = [THREE[0], container("app", "exited", number=2, exit_code=137),
                  container("app", "exited", number=3, exit_code=143)]
    health = evaluate(HealthInputs(deployment("app"), containers, DesiredState.RUNNING, NOW,
                                   scales={"app": 2}))
    assert health.verdict is Verdict.DEGRADED
    assert health.services[0].status is ServiceStatus.EXITED


def test_scale_records_end_with_the_persons_word_on_the_service_or_deployment(
    tmp_path: Path,
) -> None:
    store = DesiredStateStore(Database(tmp_path / "s.db"))
    assert store.set_scale("shop", "app", 2, IDS) is True
    assert store.set_scale("shop", "app", 2, IDS) is False
    assert store.scales("shop") == {"app": ScaleRecord(2, IDS)}
    store.set("shop", DesiredState.RUNNING, "observed-start", service="app")
    assert store.scales("shop") == {}
    store.set_scale("shop", "app", 1, IDS)
    store.set("shop", DesiredState.STOPPED, "cli")
    assert store.scales("shop") == {}
    store.set_scale("shop", "app", 1, IDS)
    store.forget("shop")
    assert store.scales("shop") == {}
