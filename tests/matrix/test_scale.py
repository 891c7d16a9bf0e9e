"""Rows of the behaviour matrix about a service a person scaled (``compose up --scale``).

Compose's ``up`` brings a service to the scale its files say; the containers a person added
or stopped by hand are their word, which stackmedic's starts, recoveries and boot reconcile
keep. Each runs on the module's private daemon, with an agent mailing a real SMTP sink,
recovery on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support import zoo
from support.compose import crash_container
from support.deployments import Deployment, DeploymentFactory
from support.dockerd import PrivateDockerd
from support.reboot import Host, host
from support.wait import assert_holds, wait_until

pytestmark = pytest.mark.docker

QUIET_SECONDS = 20.0  # past the stop settle (15 s): a stop has been judged by then


def _states(site: Deployment, service: str = "app") -> list[str]:
    """The states of the service's containers, by container number."""
    rows = sorted((r for r in site.ps() if r["Service"] == service),
                  key=lambda r: r["Name"])
    return [str(r["State"]) for r in rows]


def _health(row: Host, site: Deployment) -> dict[str, Any]:
    body: dict[str, Any] = row.api(f"/api/deployments/{site.name}/health")
    return body


def _history(row: Host, site: Deployment) -> list[str]:
    items = row.api(f"/api/deployments/{site.name}/health/history?limit=500")["items"]
    return [str(i["verdict"]) for i in items]


def _mails(row: Host, site: Deployment) -> list[str]:
    return [t for t in row.mail_texts() if site.name in t]


def _runs(row: Host, site: Deployment) -> list[dict[str, Any]]:
    return list(reversed(row.api(f"/api/recoveries?deployment={site.name}")["items"]))


def _scaled(row: Host, name: str, replicas: int) -> Deployment:
    site = row.factory.make(name, {"app": zoo.graceful(), "db": zoo.graceful()})
    site.up()
    row.agent.start()
    wait_until(lambda: row.verdict(site) == "healthy", 60, message="healthy")
    site.up("--scale", f"app={replicas}")
    wait_until(lambda: _states(site) == ["running"] * replicas, 60,
               message=f"{replicas} replicas running")
    return site


def test_a_person_scaling_a_service_up_and_down_is_no_episode(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
) -> None:
    with host(tmp_path, private_dockerd, private_deployments) as row:
        site = _scaled(row, "updown", 3)
        site.up("--scale", "app=1")
        assert_holds(lambda: _states(site) == ["running"] and not _mails(row, site),
                     QUIET_SECONDS, message="scaled down, nothing told")
        assert set(_history(row, site)) <= {"healthy", "deploying", "stopping"}, \
            _history(row, site)
        assert _runs(row, site) == []
        assert row.verdict(site) == "healthy"
        # Scaled to nothing: the service is stopped on purpose, as a `docker rm -f` is.
        site.up("--scale", "app=0")
        wait_until(lambda: "app stopped as desired" in _health(row, site)["reason"], 60,
                   message="app stopped as desired")
        assert _mails(row, site) == [] and _runs(row, site) == []
        assert _states(site) == []


def test_a_crashed_replica_is_restarted_and_the_scale_kept(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
) -> None:
    with host(tmp_path, private_dockerd, private_deployments) as row:
        site = _scaled(row, "crash", 3)
        app = [r["ID"] for r in site.ps() if r["Service"] == "app"]
        crash_container(app[1], private_dockerd.host)
        wait_until(lambda: [r["outcome"] for r in _runs(row, site)] == ["recovered"], 90,
                   message="recovered")
        # Compose's own `up` of the service would have scaled it back to its file's 1.
        assert _states(site) == ["running"] * 3
        assert row.verdict(site) == "healthy"


def test_a_person_stopping_some_replicas_keeps_the_rest_running(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
) -> None:
    with host(tmp_path, private_dockerd, private_deployments) as row:
        site = _scaled(row, "some", 3)
        app = sorted((r for r in site.ps() if r["Service"] == "app"), key=lambda r: r["Name"])
        private_dockerd.docker("stop", app[2]["ID"])
        assert_holds(lambda: _states(site) == ["running", "running", "exited"],
                     QUIET_SECONDS, message="the stopped replica left stopped")
        assert _mails(row, site) == [] and _runs(row, site) == []
        assert row.verdict(site) == "healthy", _health(row, site)
        events = row.events("intent-changed", 0)
        assert any("stackmedic keeps 2 of its 3 containers running" in e["message"]
                   for e in events), [e["message"] for e in events]
        # One of the two kept running crashes: brought back to two, not to three.
        crash_container(app[0]["ID"], private_dockerd.host)
        wait_until(lambda: [r["outcome"] for r in _runs(row, site)] == ["recovered"], 90,
                   message="recovered")
        wait_until(lambda: sorted(_states(site)) == ["running", "running"], 30,
                   message="two running again")
        assert row.verdict(site) == "healthy"
        # A person starts what they stopped: the service is all of its containers again.
        site.up("--scale", "app=3")
        wait_until(lambda: _states(site) == ["running"] * 3, 60, message="three again")
        assert_holds(lambda: row.verdict(site) == "healthy", 5, message="healthy")


def test_a_scaled_service_without_a_policy_comes_back_whole_after_a_reboot(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
) -> None:
    with host(tmp_path, private_dockerd, private_deployments) as row:
        whole = _scaled(row, "whole", 3)
        kept = row.factory.make("kept", {"app": zoo.graceful()})
        kept.up("--scale", "app=3")
        wait_until(lambda: row.verdict(kept) == "healthy", 60, message="kept healthy")
        stopped = sorted((r for r in kept.ps()), key=lambda r: r["Name"])[2]["ID"]
        private_dockerd.docker("stop", stopped)
        wait_until(lambda: any("stackmedic keeps 2" in e["message"]
                               for e in row.events("intent-changed", 0)), 60,
                   message="the stop of one replica judged")
        row.reboot()
        row.wait_summary(1)
        assert _states(whole) == ["running"] * 3
        assert sorted(_states(kept)) == ["running", "running"]
        assert row.verdict(whole) == "healthy" and row.verdict(kept) == "healthy"
