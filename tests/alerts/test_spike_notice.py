"""A spike notice names who, the windowed value against the threshold, how long, who uses most."""

from __future__ import annotations

from stackmedic.alerts.spike_notice import from_spike
from stackmedic.notify.types import NotificationKind
from stackmedic.resources import Consumer, SpikeAlert
from stackmedic.types import Severity

AT = 1_800_000_000.0
BURNER = Consumer("c1" * 32, "shop-web-1", "shop", "web", 96.5, "percent_of_core")


def alert(**fields: object) -> SpikeAlert:
    base: dict[str, object] = dict(
        rule="container-cpu-high", severity=Severity.WARNING, state="firing",
        metric="container_cpu_busy_percent", subject="c1" * 32, value=94.24, threshold=90,
        clear_below=80, since=AT - 300, ts=AT, deployment="shop", service="web",
        container_id="c1" * 32, container_name="shop-web-1", fired_at=AT,
        top_consumers=(BURNER,), aggregate="avg", window_seconds=300, samples=31)
    base.update(fields)
    return SpikeAlert(**base)  # type: ignore[arg-type]


def test_a_container_spike_says_who_the_average_the_threshold_and_the_top_consumers() -> None:
    event = from_spike(alert())
    assert event is not None and event.kind == NotificationKind.SPIKE
    assert event.title == "shop/web: CPU averaged 94.2 % busy over 5 min (threshold 90)"
    assert (event.deployment, event.service, event.severity) == ("shop", "web", "warning")
    details = event.details
    assert details["value"] == "94.2 % busy (average of 31 samples over 5 min)"
    assert details["container"] == "shop-web-1"
    assert details["since"] == "2027-01-15T07:55:00+00:00"
    assert details["top consumers"] == "shop-web-1 (shop/web): 96 % of a core"


def test_the_resolve_says_the_value_now_and_how_long_it_fired() -> None:
    event = from_spike(alert(state="resolved", value=41.0, ts=AT + 750, resolved_at=AT + 750,
                             reason="below clear threshold"))
    assert event is not None and event.kind == NotificationKind.SPIKE_RESOLVED
    assert event.title == (
        "shop/web: CPU back to 41.0 % busy over 5 min, below 80, after firing for 12 min")
    assert event.details["firing for"] == "12 min"


def test_a_host_spike_names_the_host_and_a_disk_spike_its_disk() -> None:
    host = from_spike(alert(metric="host_cpu_percent", subject="host", deployment=None,
                            service=None, container_id=None, container_name=None,
                            window_seconds=600, value=91.0, threshold=85))
    assert host is not None and host.deployment is None
    assert host.title == "host: CPU averaged 91.0 % of all cores over 10 min (threshold 85)"
    assert "container" not in host.details  # nothing unknown shown as "-"
    disk = from_spike(alert(metric="host_disk_percent", subject="disk:data", deployment=None,
                            service=None, container_name=None, window_seconds=0, value=99.0,
                            threshold=98, top_consumers=()))
    assert disk is not None
    assert disk.title == "host disk data: disk at 99.0 % full (threshold 98)"
    assert disk.details["value"] == "99.0 % full (latest sample)"


def test_pending_is_not_told() -> None:
    assert from_spike(alert(state="pending")) is None
