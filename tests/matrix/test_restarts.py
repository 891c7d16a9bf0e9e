"""Restarts in a row: host reboots and Docker daemon restarts close together, on a private
daemon with a real SMTP sink. Nothing a shutdown stopped counts as a failure, a give-up is
tried afresh, and each summary mail is true line by line, naming every deployment once."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from support import zoo
from support.deployments import Deployment, DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.reboot import QUIET_SECONDS, Host, host
from support.wait import assert_holds, pause, wait_until

pytestmark = pytest.mark.docker

PROMISE = "will diagnose and try to recover it after"  # a problem notice's next action
INVALID = ("compose file invalid: validating {file}: services.app additional properties "
           "'imagee' not allowed")


def _healthy(row: Host, *deployments: Deployment) -> None:
    for deployment in deployments:
        wait_until(lambda d=deployment: row.verdict(d) == "healthy", 90,
                   message=f"{deployment.name} healthy")


def _fixable(factory: DeploymentFactory) -> Deployment:
    """Runs while its config file exists; without it, exits 3 at once (a person's fix:
    put the file back)."""
    made = factory.make("fixable", {"app": service(
        "test -f /cfg/ok || { echo config missing; exit 3; }; "
        "while test -f /cfg/ok; do sleep 0.5; done; echo config gone; exit 3",
        volumes=["./cfg:/cfg"])}, files={"cfg/ok": "yes"})
    return made


def _built(factory: DeploymentFactory, image: str) -> Deployment:
    """A service with only ``build:`` (no registry: FROM the image already loaded)."""
    return factory.make("built", {"app": service("sleep 3600", build={"context": "./ctx"})},
                        files={"ctx/Dockerfile": f"FROM {image}\nCOPY marker /marker\n",
                               "ctx/marker": "built\n"})


def test_two_host_reboots_minutes_apart_give_up_nothing_and_each_tell_all(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    busybox_image: str,
) -> None:
    factory = private_deployments
    plain = factory.make("plain", {"app": zoo.graceful()})
    pair = factory.make("pair", {"main": zoo.graceful(), "side": zoo.sidecar()})
    policy = factory.make("policy", {"app": zoo.graceful(restart="unless-stopped")})
    parked = factory.make("parked", {"app": zoo.graceful()})
    fixable = _fixable(factory)
    invalid = factory.make("invalid", {"app": zoo.graceful()})
    built = _built(factory, busybox_image)
    gone = factory.make("gone", {"app": zoo.graceful()})
    every = (plain, pair, policy, parked, fixable, invalid, built, gone)
    for deployment in every:
        deployment.up()
    with host(tmp_path, private_dockerd, factory) as row:
        row.agent.start()
        _healthy(row, *every)
        assert row.agent.cli("stop", parked.name).returncode == 0
        # fixable loses its config, crashes, and recovery gives up on it.
        (fixable.path / "cfg" / "ok").unlink()
        wait_until(lambda: row.events("recovery-gave-up", 0), 120, message="fixable gave up")
        assert row.api(f"/api/deployments/{fixable.name}/recovery")["phase"] == "gave-up"

        def while_down() -> None:
            (fixable.path / "cfg" / "ok").write_text("yes")  # a person fixed it
            invalid.write({"services": {"app": {"image": busybox_image, "imagee": "x"}}})
            shutil.rmtree(gone.path)

        def at_boot() -> None:  # the built image is pruned before stackmedic starts
            private_dockerd.docker("image", "rm", "--force", f"{built.name}-app")

        first_down = row.reboot(while_down=while_down, at_boot=at_boot)
        lines = row.lines(row.wait_summary(1))
        text = row.summaries()[0]
        assert lines["head"].startswith("recovered after host restart ("), text
        assert lines["came back by itself"] == "policy"
        assert lines["brought back by stackmedic"] == (
            "built (rebuild app), fixable (start app; it had given up before the restart), "
            "pair (start main, start side), plain (start app)")
        assert lines["still down"] == "invalid (" + INVALID.format(
            file=row.short(str(invalid.compose_file))) + "; stackmedic acts once the " \
            "compose file is valid again)", text
        assert lines["left stopped on purpose"] == "parked"
        assert lines["no longer found"] == (
            "gone (its compose folder is gone (or not mounted); stackmedic no longer "
            "watches it)")
        assert PROMISE not in text
        assert row.verdict(invalid) == "invalid"
        _all_running(plain, pair, policy, fixable, built)
        assert row.events("recovery-gave-up", first_down) == []

        pause(30)  # the second reboot, half a minute after everything was verified
        second_down = row.reboot()
        lines = row.lines(row.wait_summary(2))
        assert lines["came back by itself"] == "policy"
        # The same plain actions again: a shutdown's kill is no relapse of the last recovery.
        assert lines["brought back by stackmedic"] == (
            "built (start app), fixable (start app), pair (start main, start side), "
            "plain (start app)")
        assert lines["still down"].startswith("invalid (compose file invalid")
        assert lines["left stopped on purpose"] == "parked"
        assert "no longer found" not in lines  # told once
        assert PROMISE not in row.summaries()[1]
        _all_running(plain, pair, policy, fixable, built)
        assert row.events("recovery-gave-up", second_down) == []
        assert len(row.summaries()) == 2


def _all_running(*deployments: Deployment) -> None:
    for deployment in deployments:
        states = deployment.states()
        assert states and set(states.values()) == {"running"}, (deployment.name, states)


def test_a_second_reboot_during_the_first_reconcile_is_one_summary_and_no_failure(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
) -> None:
    factory = private_deployments
    plain = factory.make("plain", {"app": zoo.graceful()})
    slow = factory.make("slow", {"app": zoo.slow_starter(delay=20)})
    pair = factory.make("pair", {"main": zoo.graceful(), "side": zoo.sidecar()})
    policy = factory.make("policy", {"app": zoo.graceful(restart="unless-stopped")})
    every = (plain, slow, pair, policy)
    for deployment in every:
        deployment.up()
    with host(tmp_path, private_dockerd, factory, verify_timeout_seconds=60) as row:
        row.agent.start()
        _healthy(row, *every)
        first_down = row.reboot()
        # The reconcile has acted and waits for slow to be ready: reboot again now.
        def acted() -> bool:
            done = [e["deployment"] for e in row.events("recovery-action", first_down)]
            return done.count(slow.name) == 1 and done.count(plain.name) == 1 \
                and done.count(pair.name) == 2

        wait_until(acted, 60, message="the first reconcile acted on everything")
        assert row.summaries() == []
        second_down = row.reboot()
        text = row.wait_summary(1, timeout=240)
        lines = row.lines(text)
        assert lines["head"].startswith("recovered after host restart (")
        assert "(it came before the reconcile after the host restart at " in lines["head"]
        assert lines["head"].endswith("had finished; this summary covers both):")
        assert lines["came back by itself"] == "policy"
        assert lines["brought back by stackmedic"] == (
            "pair (start main, start side), plain (start app), slow (start app)")
        assert lines["still down"] == "none"
        _all_running(*every)
        assert row.events("recovery-gave-up", first_down) == []
        # The run the second reboot cut short is interrupted, with what it did, and it
        # counted against nothing.
        runs = row.api(f"/api/recoveries?deployment={slow.name}")["items"]
        cut = [r for r in runs if second_down > r["started_at"] >= first_down]
        assert [r["outcome"] for r in cut] == ["interrupted"]
        assert [(a["action"], a["ok"]) for a in cut[0]["actions"]] == [("start", True)]
        assert runs[0]["outcome"] == "recovered"
        assert row.api(f"/api/deployments/{slow.name}/recovery")["failures"] == 0
        assert len(row.summaries()) == 1


def test_a_daemon_restart_during_the_reconcile_after_a_reboot_is_one_summary(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
) -> None:
    factory = private_deployments
    plain = factory.make("plain", {"app": zoo.graceful()})
    slow = factory.make("slow", {"app": zoo.slow_starter(delay=20)})
    policy = factory.make("policy", {"app": zoo.graceful(restart="unless-stopped")})
    every = (plain, slow, policy)
    for deployment in every:
        deployment.up()
    with host(tmp_path, private_dockerd, factory, verify_timeout_seconds=60) as row:
        row.agent.start()
        _healthy(row, *every)
        first_down = row.reboot()

        def acted() -> bool:
            done = [e["deployment"] for e in row.events("recovery-action", first_down)]
            return done.count(slow.name) == 1 and done.count(plain.name) == 1

        wait_until(acted, 60, message="the first reconcile acted on everything")
        restarted_at = time.time()
        private_dockerd.restart()  # the agent keeps running: its reconcile is cut short
        text = row.wait_summary(1, timeout=240)
        lines = row.lines(text)
        assert lines["head"].startswith("recovered after daemon restart ("), text
        assert "(it came before the reconcile after the host restart at " in lines["head"]
        assert lines["came back by itself"] == "policy", text
        assert lines["brought back by stackmedic"] == "plain (start app), slow (start app)", (
            text, [(e["kind"], e["deployment"], e["message"]) for kind in (
                "recovery-started", "recovery-action", "recovery-succeeded", "intent-changed",
                "intent-confirmed", "intent-ignored") for e in row.events(kind, first_down)])
        assert lines["still down"] == "none", text
        _all_running(*every)
        assert row.events("recovery-gave-up", first_down) == []
        runs = row.api(f"/api/recoveries?deployment={slow.name}")["items"]
        cut = [r for r in runs if restarted_at > r["started_at"] >= first_down]
        assert [r["outcome"] for r in cut] == ["interrupted"]
        assert [(a["action"], a["ok"]) for a in cut[0]["actions"]] == [("start", True)]
        assert len(row.summaries()) == 1


def test_a_daemon_restart_after_a_host_reboot_is_no_relapse(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
) -> None:
    factory = private_deployments
    plain = factory.make("plain", {"app": zoo.exits_143()})
    pair = factory.make("pair", {"main": zoo.graceful(), "side": zoo.sidecar()})
    policy = factory.make("policy", {"app": zoo.graceful(restart="unless-stopped")})
    every = (plain, pair, policy)
    for deployment in every:
        deployment.up()
    with host(tmp_path, private_dockerd, factory) as row:
        row.agent.start()
        _healthy(row, *every)
        first_down = row.reboot()
        lines = row.lines(row.wait_summary(1))
        assert lines["brought back by stackmedic"] == (
            "pair (start main, start side), plain (start app)")
        pause(30)
        private_dockerd.restart()  # Docker upgraded: the agent keeps running
        lines = row.lines(row.wait_summary(2))
        assert lines["head"].startswith("recovered after daemon restart (")
        assert lines["came back by itself"] == "policy"
        assert lines["brought back by stackmedic"] == (
            "pair (start main, start side), plain (start app)")
        assert lines["still down"] == "none"
        _all_running(*every)
        assert row.events("recovery-gave-up", first_down) == []
        assert len(row.summaries()) == 2


def test_a_run_cut_short_by_an_agent_kill_keeps_its_action_and_the_resolution_names_it(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
) -> None:
    factory = private_deployments
    # Ready 8 s after each start; exits 3 by itself once cfg/crash appears.
    site = factory.make("crashy", {"app": zoo._spec(
        "rm -f /tmp/ready; (sleep 8; touch /tmp/ready) & "
        "while ! test -f /cfg/crash; do sleep 0.3; done; rm -f /cfg/crash; exit 3",
        volumes=["./cfg:/cfg"],
        healthcheck={"test": ["CMD-SHELL", "test -f /tmp/ready"], "interval": "1s",
                     "timeout": "2s", "retries": 3, "start_period": "30s"})},
        files={"cfg/.keep": ""})
    site.up()
    with host(tmp_path, private_dockerd, factory, verify_timeout_seconds=60) as row:
        row.agent.start()
        _healthy(row, site)
        (site.path / "cfg" / "crash").write_text("now")
        crashed = time.time()
        # stackmedic starts it and waits for it to be ready: the agent is killed meanwhile.
        wait_until(lambda: row.events("recovery-action", crashed), 60, message="started")
        row.agent.kill()
        wait_until(lambda: _engine_health(private_dockerd, site) == "healthy", 60,
                   message="ready after stackmedic's start")
        mails = row.sink.count()
        back = time.time()
        row.agent.start()
        runs = [r for r in row.api(f"/api/recoveries?deployment={site.name}")["items"]
                if r["started_at"] >= crashed]
        assert [r["outcome"] for r in runs] == ["interrupted"]
        assert [(a["action"], a["service"], a["ok"]) for a in runs[0]["actions"]] == [
            ("start", "app", True)]
        news = wait_until(lambda: [m for m in row.mail_texts()[mails:]
                                   if "recovered by stackmedic" in m], 60,
                          message="the resolution")
        assert "recovered: start app (run " in news[0]
        assert "cut short when the agent stopped" in news[0]
        assert "is healthy again" in news[0]  # one notice: the problem's end, and who did it
        # The problem notice, queued before the kill, may go out only once the agent is
        # back (the outbox delivers at least once): one problem, one resolution, no more.
        def one_of_each() -> bool:
            subjects = [t.split("\r\n", 1)[0] for t in row.mail_texts()]
            return (sum("PROBLEM" in s for s in subjects) <= 1
                    and sum("RESOLVED" in s for s in subjects) == 1
                    and len(subjects) <= 2)

        assert_holds(one_of_each, QUIET_SECONDS,
                     message=f"one problem and one resolution, not "
                             f"{[t[:200] for t in row.mail_texts()]}")
        assert site.states() == {"app": "running"}
        assert row.events("recovery-started", back) == []  # nothing acted again


def _engine_health(dockerd: PrivateDockerd, site: Deployment) -> str:
    [cid] = site.container_ids()
    return dockerd.docker("inspect", "--format", "{{.State.Health.Status}}",
                          cid).stdout.strip()
