"""The fleet stack, started once for the fleet tests, and the crash on h2 they look at."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fleet.stack import PEER_TIMEOUT, Fleet, running_fleet
from support.compose import crash_containers
from support.servers import ReceivedRequest
from support.wait import assert_holds, wait_until


@pytest.fixture(scope="package")
def fleet(tmp_path_factory: pytest.TempPathFactory, busybox_image: str) -> Iterator[Fleet]:
    """Three hosts with an agent each, Prometheus, two clustered Alertmanagers, a receiver."""
    with running_fleet(tmp_path_factory.mktemp("fleet"), busybox_image) as stack:
        yield stack


@dataclass
class CrashOnH2:
    """What the fleet showed while h2's shop deployment crashed and was recovered."""

    deployment: str
    ill_in_prometheus: list[dict[str, Any]]
    alerts_per_member: list[list[dict[str, Any]]]
    notifications: list[dict[str, Any]]
    sent_per_member: list[float]


def notifications(fleet: Fleet) -> list[dict[str, Any]]:
    """Every notification the Alertmanager cluster sent to the receiver, as payloads."""
    requests: list[ReceivedRequest] = fleet.receiver.received()
    return [r.json() for r in requests]


def statuses(fleet: Fleet) -> list[str]:
    """Each notification's group status, in arrival order."""
    return [n["status"] for n in notifications(fleet)]


def summary(fleet: Fleet) -> str:
    """The notifications so far, one line each, for failure messages."""
    return "\n".join(
        f"{n['status']} to {n['receiver']} from {n['externalURL']}: "
        + ", ".join(f"{a['status']} {a['labels']}" for a in n["alerts"])
        for n in notifications(fleet)
    ) or "none"


@pytest.fixture(scope="package")
def crash_on_h2(fleet: Fleet) -> CrashOnH2:
    """Kill both services of shop on h2, then wait for recovery and the resolved notice."""
    try:
        return _crash_on_h2(fleet)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nnotifications at the receiver:\n{summary(fleet)}") from None


def _crash_on_h2(fleet: Fleet) -> CrashOnH2:
    h2 = fleet.hosts["h2"]
    shop = h2.extra["shop"]
    wait_until(lambda: fleet.prometheus.query(
        f'stackmedic_deployment_verdict{{host="h2",deployment="{shop.name}",verdict="healthy"}}'
        " == 1"), 60, interval=0.2, message="shop healthy in Prometheus before the crash")
    assert fleet.receiver.received() == [], "notifications before the crash"

    crash_containers(shop.container_ids(), docker_host=h2.daemon.host)
    ill = wait_until(lambda: fleet.prometheus.query(
        f'stackmedic_deployment_verdict{{host="h2",deployment="{shop.name}",'
        'verdict=~"down|degraded"} == 1'), 60, interval=0.2,
        message="shop ill in Prometheus")
    held = [
        wait_until(lambda m=member: m.alerts(f'deployment="{shop.name}"'), 60, interval=0.2,
                   message=f"{member.name} holding shop's alert")
        for member in fleet.alertmanagers.members
    ]
    wait_until(lambda: "firing" in statuses(fleet), 60, interval=0.2,
               message="a firing notification at the receiver")
    wait_until(lambda: shop.states() == {"web": "running", "worker": "running"}, 90,
               interval=0.5, message="shop recovered by the agent")
    wait_until(lambda: statuses(fleet)[-1] == "resolved", 90, interval=0.2,
               message="a resolved notification at the receiver")
    # The second member sends only what the first has not: give it its turn (its position
    # times the peer timeout, and a gossip round) and check nothing more arrives.
    count = len(fleet.receiver.received())
    assert_holds(lambda: len(fleet.receiver.received()) == count, 2 * PEER_TIMEOUT + 1,
                 message="no further notification from the other cluster member")
    sent = [m.webhook_notifications() for m in fleet.alertmanagers.members]
    return CrashOnH2(shop.name, ill, held, notifications(fleet), sent)


@pytest.fixture(scope="package")
def settled(fleet: Fleet, crash_on_h2: CrashOnH2) -> Fleet:
    """The fleet after the crash, once Prometheus holds the recovery counters of it."""
    wait_until(lambda: fleet.prometheus.query(
        f'stackmedic_recovery_runs_total{{host="h2",deployment="{crash_on_h2.deployment}"}}'),
        60, interval=0.2, message="recovery run counted in Prometheus")
    return fleet
