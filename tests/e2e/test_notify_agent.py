"""The whole agent notifying a real SMTP server about real containers."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from support.agent import RECOVERY_ON, running_agent
from support.compose import crash_container, crash_containers, run_docker
from support.deployments import DeploymentFactory, prepare_services, service
from support.servers import ReceivedMail, SmtpSink
from support.wait import async_wait_until


def mail_config(sink: SmtpSink, window: float = 1.5) -> dict[str, Any]:
    return {"notifications": {
        "group_window_seconds": window,
        "retry_initial_seconds": 0.2,
        "channels": {"ops": {
            "type": "email", "host": "127.0.0.1", "port": sink.port, "security": "none",
            "from_address": "stackmedic@test.invalid", "to": ["ops@test.invalid"],
        }},
    }}


def subjects(sink: SmtpSink) -> list[str]:
    with sink.lock:
        return [str(m.message["Subject"]) for m in sink.mails]


def mails_with(sink: SmtpSink, word: str) -> list[ReceivedMail]:
    with sink.lock:
        return [m for m in sink.mails if word in str(m.message["Subject"]).lower()]


async def test_a_dying_service_sends_one_email_and_one_when_it_is_back(
    tmp_path: Path, deployments: DeploymentFactory, smtp: SmtpSink
) -> None:
    site = deployments.make("mailer", {"web": service("sleep 3600"),
                                       "job": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root, **mail_config(smtp)) as h:
        await h.wait_listed(site.name)
        job = next(c for c in site.ps() if c["Service"] == "job")["ID"]
        # exits; no restart policy (the exec may be killed with the container: 137)
        result = run_docker("exec", job, "sh", "-c", "kill -TERM 1", check=False)
        assert result.returncode in (0, 137), result.stderr
        ill = await async_wait_until(lambda: mails_with(smtp, site.name), 60,
                                     message="ill-health email")
        assert len(ill) == 1
        text = ill[0].text()
        subject = str(ill[0].message["Subject"])
        assert "degraded" in subject
        assert "job" in text and site.name in text
        assert "143" in text  # the exit code
        site.up()
        back = await async_wait_until(lambda: mails_with(smtp, "healthy again"), 60,
                                      message="recovered email")
        assert len(back) == 1
        assert site.name in str(back[0].message["Subject"])
        assert smtp.count() == 2, subjects(smtp)


async def test_three_containers_dying_together_make_one_notification(
    tmp_path: Path, deployments: DeploymentFactory, smtp: SmtpSink
) -> None:
    site = deployments.make("trio", {name: service("sleep 3600") for name in ("a", "b", "c")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root,
                             **mail_config(smtp, window=3)) as h:
        await h.wait_listed(site.name)
        crash_containers(site.container_ids())
        mails = await async_wait_until(lambda: mails_with(smtp, site.name), 60,
                                       message="grouped email")
        body = mails[0].text()
        for name in ("a", "b", "c"):
            assert f"{name} exited" in body

        async def mine() -> list[dict[str, Any]]:
            notifications = (await h.get("/api/notifications"))["items"]
            return [n for n in notifications if n["deployment"] == site.name]

        # The mail can arrive before the outbox records its delivery as sent.
        sent = await async_wait_until(
            lambda: _all_sent(mine()), 30, message="the delivery recorded as sent")
        assert len(sent) == 1, sent
        assert smtp.count() == 1, subjects(smtp)


async def test_a_killed_service_is_recovered_and_one_recovered_notice_follows(
    tmp_path: Path, deployments: DeploymentFactory, smtp: SmtpSink
) -> None:
    site = deployments.make("healer", {"web": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root,
                             **RECOVERY_ON, **mail_config(smtp)) as h:
        await h.wait_listed(site.name)
        crash_container(site.container_ids()[0])
        await async_wait_until(lambda: mails_with(smtp, "recovered by stackmedic"), 90,
                               message="recovered notice")
        assert site.states() == {"web": "running"}
        recovered = mails_with(smtp, "recovered by stackmedic")
        assert len(recovered) == 1
        assert "start web" in recovered[0].text()


async def test_removing_a_failing_deployment_closes_its_problem(
    tmp_path: Path, deployments: DeploymentFactory, smtp: SmtpSink
) -> None:
    site = deployments.make("doomed", {"web": service("sleep 3600")})
    site.up()
    async with running_agent(tmp_path / "data", deployments.root, **mail_config(smtp)) as h:
        await h.wait_listed(site.name)
        crash_container(site.container_ids()[0])
        await async_wait_until(lambda: mails_with(smtp, "down"), 60, message="ill email")
        site.down()
        shutil.rmtree(site.path)
        removed = await async_wait_until(lambda: mails_with(smtp, "was removed"), 60,
                                         message="removed email")
        assert site.name in str(removed[0].message["Subject"])
        assert smtp.count() == 2, subjects(smtp)


def tagged(sink: SmtpSink, name: str, label: str) -> list[ReceivedMail]:
    """Mails about deployment ``name`` whose subject says they are ``label`` (PROBLEM, ...)."""
    with sink.lock:
        return [m for m in sink.mails
                if name in str(m.message["Subject"]) and label in str(m.message["Subject"])]


async def test_a_second_crash_after_a_recovery_is_told_again(
    tmp_path: Path, deployments: DeploymentFactory, smtp: SmtpSink
) -> None:
    site = deployments.make("twice", {"web": service("sleep 3600")})
    site.up()
    # A window shorter than the recovery's settle time: each notice is a mail of its own.
    async with running_agent(tmp_path / "data", deployments.root,
                             **RECOVERY_ON, **mail_config(smtp, window=0.2)) as h:
        await h.wait_listed(site.name)
        # Past the start, whose notices wait to see whether a restart reconcile follows.
        await async_wait_until(lambda: not h.agent.notifications.episodes.holding, 30,
                               message="notices no longer held")
        for crash in (1, 2):
            crash_container(site.container_ids()[0])
            await async_wait_until(
                lambda n=crash: len(tagged(smtp, site.name, "RESOLVED")) == n
                and mails_with(smtp, "recovered by stackmedic")[n - 1:], 90,
                message=f"crash {crash} resolved and recovered")
            assert site.states() == {"web": "running"}
        problems = tagged(smtp, site.name, "PROBLEM")
        assert len(problems) == 2, subjects(smtp)
        assert all("is down" in str(m.message["Subject"]) for m in problems)
        assert len(tagged(smtp, site.name, "RESOLVED")) == 2, subjects(smtp)
        assert not tagged(smtp, site.name, "FIRING"), subjects(smtp)
        state = await h.get("/api/notifications/outbox")
        assert not [p for p in state.get("firing_problems", []) if p["deployment"] == site.name]


async def quiet_about(h: Any, smtp: SmtpSink, site: Any, sentinel: Any) -> None:
    """Crash ``sentinel`` and wait for its mail: by then any mail about ``site`` came too."""
    crash_container(sentinel.container_ids()[0])
    await async_wait_until(lambda: mails_with(smtp, sentinel.name), 60,
                           message="a mail about the sentinel")
    about = [s for s in subjects(smtp) if site.name in s]
    assert about == [], about


async def test_stops_on_purpose_send_nothing(
    tmp_path: Path, deployments: DeploymentFactory, smtp: SmtpSink
) -> None:
    site = deployments.make("calm", {"web": service("sleep 3600"),
                                     "db": service("sleep 3600")})
    sentinel = deployments.make("canary", {"web": service("sleep 3600")})
    site.up()
    sentinel.up()
    async with running_agent(tmp_path / "data", deployments.root,
                             **RECOVERY_ON, **mail_config(smtp)) as h:
        await h.wait_listed(site.name)
        await h.wait_listed(sentinel.name)
        response = await h.post(f"/api/deployments/{site.name}/restart")
        assert response.status_code == 200, response.text
        await async_wait_until(
            lambda: verdict_is(h, site.name, "healthy"), 60, message="healthy after restart")
        await asyncio.to_thread(site.stop)  # docker compose stop, outside stackmedic
        await async_wait_until(
            lambda: verdict_is(h, site.name, "stopped"), 60, message="stop taken as intent")
        assert site.states() == {"web": "exited", "db": "exited"}
        await quiet_about(h, smtp, site, sentinel)
        rows = (await h.get("/api/events", params={"deployment": site.name}))["items"]
        assert not [r for r in rows if r["severity"] == "critical"], rows


def redeployable(version: str) -> dict[str, Any]:
    """web waits for db, which needs a few seconds to pass its healthcheck."""
    db = service("sleep 3; touch /tmp/ready; sleep 3600", environment={"V": version},
                 healthcheck={"test": ["CMD-SHELL", "test -f /tmp/ready"],
                              "interval": "1s", "retries": 30})
    web = service("sleep 3600", environment={"V": version},
                  depends_on={"db": {"condition": "service_healthy"}})
    return {"db": db, "web": web}


async def test_a_redeploy_with_a_changed_environment_sends_nothing(
    tmp_path: Path, deployments: DeploymentFactory, smtp: SmtpSink
) -> None:
    site = deployments.make("shipit", redeployable("1"))
    sentinel = deployments.make("canary", {"web": service("sleep 3600")})
    site.up()
    sentinel.up()
    async with running_agent(tmp_path / "data", deployments.root,
                             **RECOVERY_ON, **mail_config(smtp)) as h:
        await h.wait_listed(site.name)
        await h.wait_listed(sentinel.name)
        await async_wait_until(
            lambda: verdict_is(h, site.name, "healthy"), 60, message="healthy at first")
        before = set(site.container_ids())
        site.write({"services": prepare_services(redeployable("2"), deployments.image)})
        await asyncio.to_thread(site.up)  # the agent watches while Compose works
        assert not before & set(site.container_ids())  # recreated
        await async_wait_until(
            lambda: verdict_is(h, site.name, "healthy"), 60, message="healthy after redeploy")
        await quiet_about(h, smtp, site, sentinel)
        assert site.states() == {"web": "running", "db": "running"}
        runs = (await h.get("/api/recoveries", params={"deployment": site.name}))["items"]
        assert runs == []  # stackmedic left the redeploy alone


async def verdict_is(h: Any, name: str, verdict: str) -> bool:
    return bool((await h.get(f"/api/deployments/{name}/health"))["verdict"] == verdict)


async def _all_sent(found: Awaitable[list[dict[str, Any]]]) -> list[dict[str, Any]] | None:
    items = await found
    if items and all(d["status"] == "sent" for n in items for d in n["deliveries"]):
        return items
    return None
