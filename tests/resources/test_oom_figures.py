"""The OOM figure of `/metrics` and of the sampler's kill detection (pure)."""

from __future__ import annotations

from dataclasses import replace

from stackmedic.resources import ContainerRef, Snapshot
from stackmedic.resources.oom import oom_killed
from stackmedic.resources.prometheus import metric_families

from .samples import container


def oom_values(snapshot: Snapshot, **kwargs: object) -> dict[str, float]:
    families = metric_families(snapshot, [], **kwargs)  # type: ignore[arg-type]
    family = next(f for f in families if f.name == "stackmedic_container_oom_kills")
    return {s.labels["service"]: s.value for s in family.samples}


def test_the_metric_reads_the_one_count_of_the_service_when_given() -> None:
    # A recreated container: its own cgroup counter is back at 0, its service's count is 2.
    snapshot = Snapshot(10.0, None, (container(10.0, "c2", service="api"),), 0.01)
    assert oom_values(snapshot) == {"api": 0}
    counts = {("shop", "api"): 2}
    assert oom_values(snapshot, oom_kills=lambda ref: counts[(ref.deployment, ref.service)]
                      ) == {"api": 2}


def test_a_kill_is_seen_in_a_container_new_since_the_last_sample() -> None:
    before = Snapshot(1.0, None, (container(1.0, "c1"),), 0.01)
    old = replace(container(2.0, "c1"), oom_kills=0)
    new = replace(container(2.0, "c2", service="api"), oom_kills=1)
    after = Snapshot(2.0, None, (old, new), 0.01)
    assert [s.ref for s in oom_killed(before, after)] == [
        ContainerRef("c2", "shop", "api", "shop-api-c2")]
    assert oom_killed(None, after) == []  # the first sample has nothing to compare with
