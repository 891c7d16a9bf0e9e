"""Rows of the behaviour matrix: what a host reboot leaves to Docker's restart policies and
what stackmedic does at once, on a private daemon with a real SMTP sink."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import zoo
from support.deployments import DeploymentFactory
from support.dockerd import PrivateDockerd
from support.reboot import host
from support.wait import wait_until

pytestmark = pytest.mark.docker

# Far longer than the test waits for the summary: a reconcile that slept through a fixed
# settle before acting would never send it in time.
LONG_SETTLE = 900


def test_what_no_policy_brings_back_is_started_without_a_settle(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
) -> None:
    factory = private_deployments
    plain = factory.make("plain", {"app": zoo.graceful()})
    policy = factory.make("policy", {"app": zoo.graceful(restart="unless-stopped")})
    slow = factory.make("slow", {"app": zoo.slow_starter()})
    for deployment in (plain, policy, slow):
        deployment.up("--wait", timeout=120)
    with host(tmp_path, private_dockerd, factory, settle_seconds=LONG_SETTLE) as row:
        row.agent.start()
        for deployment in (plain, policy, slow):
            wait_until(lambda d=deployment: row.verdict(d) == "healthy", 90,
                       message=f"{deployment.name} healthy")
        row.reboot()
        lines = row.lines(row.wait_summary(1, timeout=120))
        assert lines["came back by itself"] == "policy"
        assert lines["brought back by stackmedic"] == "plain (start app), slow (start app)"
        assert lines["still down"] == "none"
        for deployment in (plain, policy, slow):
            assert deployment.states() == {"app": "running"}


@pytest.mark.parametrize("behaviour,policy", [
    ("graceful", "always"),         # always restarts even a stopped container at boot
    ("exits_143", "on-failure"),    # a stop's exit 143 is a failure to on-failure
])
def test_what_a_policy_starts_at_boot_against_a_stop_is_stopped_again(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    behaviour: str, policy: str,
) -> None:
    factory = private_deployments
    kept = factory.make("kept", {"app": getattr(zoo, behaviour)(restart=policy)})
    plain = factory.make("plain", {"app": zoo.graceful()})
    for deployment in (kept, plain):
        deployment.up()
    # Docker's own starts at boot are told from a person's by how soon after the daemon's
    # start they come (30 s by default); the test timings' 1 s is too short for a loaded
    # test machine's daemon to restore its containers in.
    with host(tmp_path, private_dockerd, factory,
              extra={"intent": {"start_settle_seconds": 15}}) as row:
        row.agent.start()
        for deployment in (kept, plain):
            wait_until(lambda d=deployment: row.verdict(d) == "healthy", 90,
                       message=f"{deployment.name} healthy")
        result = row.agent.cli("stop", kept.name)
        assert result.returncode == 0, result.stderr
        wait_until(lambda: row.verdict(kept) == "stopped", 30, message="kept stopped")
        row.reboot()
        lines = row.lines(row.wait_summary(1, timeout=120))
        assert lines["left stopped on purpose"] == (
            "kept (app stopped again: Docker's restart policy had started it)")
        assert lines["brought back by stackmedic"] == "plain (start app)"
        assert kept.states() == {"app": "exited"}
        assert row.verdict(kept) == "stopped"
        desired = row.api("/api/deployments")["items"]
        assert {d["name"]: d["desired"]["state"] for d in desired}[kept.name] == "stopped"


@pytest.mark.parametrize("behaviour,policy", [
    ("graceful", "always"),
    ("exits_143", "on-failure"),
])
def test_one_service_a_policy_starts_at_boot_against_its_stop_is_stopped_again(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    behaviour: str, policy: str,
) -> None:
    factory = private_deployments
    site = factory.make("half", {"web": zoo.graceful(),
                                 "worker": getattr(zoo, behaviour)(restart=policy)})
    site.up()
    with host(tmp_path, private_dockerd, factory,
              extra={"intent": {"start_settle_seconds": 15}}) as row:
        row.agent.start()
        wait_until(lambda: row.verdict(site) == "healthy", 90, message="healthy")
        site.stop("worker")
        wait_until(lambda: "worker stopped as desired" in str(
            row.api(f"/api/deployments/{site.name}/health")["reason"]), 60,
            message="worker's stop judged")
        row.reboot()
        lines = row.lines(row.wait_summary(1, timeout=120))
        assert lines["brought back by stackmedic"] == "half (start web)"
        assert "worker stopped again" in lines["left stopped on purpose"], lines
        assert site.states() == {"web": "running", "worker": "exited"}
        assert row.verdict(site) == "healthy"
