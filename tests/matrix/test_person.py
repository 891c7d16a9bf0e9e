"""Rows of the behaviour matrix: what a person does on purpose, and stackmedic's own actions.

None of these is an outage: no problem notice, no recovery, the desired state unchanged
(unless a stop says otherwise), and the verdict shows what is being done (`paused`,
`stopping`, `starting`), never `down`. Each runs on the module's private daemon with an
in-process agent mailing a real SMTP sink, recovery on.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import zoo
from support.agent import AgentHandle, running_agent
from support.compose import run_docker
from support.deployments import Deployment, DeploymentFactory
from support.dockerd import PrivateDockerd
from support.mails import mail_settings, problems, resolved, subjects, texts
from support.servers import SmtpSink
from support.wait import async_assert_holds, async_wait_until

ILL = {"down", "degraded", "invalid"}


async def health(h: AgentHandle, name: str) -> dict[str, Any]:
    body: dict[str, Any] = await h.get(f"/api/deployments/{name}/health")
    return body


async def verdict_is(h: AgentHandle, name: str, verdict: str) -> dict[str, Any] | None:
    body = await health(h, name)
    return body if body["verdict"] == verdict else None


async def verdicts_seen(h: AgentHandle, name: str) -> list[tuple[str, str]]:
    """Every verdict in the deployment's history, oldest first, with its reason."""
    items = (await h.get(f"/api/deployments/{name}/health/history", params={"limit": 1000}))
    return [(i["verdict"], i["reason"]) for i in reversed(items["items"])]


async def runs(h: AgentHandle, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        await h.get("/api/recoveries", params={"deployment": name}))["items"]
    return items


async def docker(host: str, *args: str) -> None:
    await asyncio.to_thread(run_docker, *args, docker_host=host)


async def started_at(host: str, ids: list[str]) -> list[str]:
    """When each container last started, by the engine's record."""
    result = await asyncio.to_thread(
        run_docker, "inspect", "--format", "{{.State.StartedAt}}", *ids, docker_host=host)
    return sorted(result.stdout.split())


def container_of(site: Deployment, service: str) -> str:
    return str(next(c["ID"] for c in site.ps() if c["Service"] == service))


async def nothing_ill(h: AgentHandle, site: Deployment, smtp: SmtpSink) -> None:
    """No mail about the deployment, no ill verdict in its history, no recovery run."""
    assert subjects(smtp, site.name) == []
    seen = await verdicts_seen(h, site.name)
    assert not [v for v in seen if v[0] in ILL], seen
    assert await runs(h, site.name) == []


def agent_on(
    root: Path, tmp_path: Path, smtp: SmtpSink, host: str, **extra: Any
) -> AbstractAsyncContextManager[AgentHandle]:
    """An in-process agent on the private daemon, mailing ``smtp``, recovery on."""
    return running_agent(tmp_path / "data", root, docker_host=host,
                         **mail_settings(smtp, **extra))


@asynccontextmanager
async def healthy_under_agent(
    name: str, services: dict[str, Any], tmp_path: Path, factory: DeploymentFactory,
    dockerd: PrivateDockerd, smtp: SmtpSink,
) -> AsyncIterator[tuple[Deployment, AgentHandle]]:
    """A deployment brought up, then an agent watching it, once it says healthy."""
    site = factory.make(name, services)
    await asyncio.to_thread(site.up, "--wait")
    async with agent_on(factory.root, tmp_path, smtp, dockerd.host) as h:
        await async_wait_until(lambda: verdict_is(h, site.name, "healthy"), 30,
                               message="healthy")
        yield site, h


PAUSES: dict[str, tuple[dict[str, Any], list[str] | None, str]] = {
    # id: (services, the ones paused by `docker pause` (None: `docker compose pause`),
    #      the verdict while paused)
    "one-service": ({"app": zoo.graceful()}, ["app"], "paused"),
    "one-of-two": ({"app": zoo.graceful(), "db": zoo.graceful()}, ["db"], "paused"),
    # engine 20.10 marks a paused container `unhealthy` and keeps the mark after unpause
    # until its next check, here up to 4 s later: still not a problem
    "healthcheck": ({"app": zoo.checked(interval="4s")}, ["app"], "paused"),
    "compose-pause": ({"app": zoo.graceful(), "db": zoo.graceful()}, None, "paused"),
}


@pytest.mark.parametrize("case", list(PAUSES))
async def test_pause_is_paused_not_an_outage(
    case: str, tmp_path: Path, private_deployments: DeploymentFactory,
    private_dockerd: PrivateDockerd, smtp: SmtpSink,
) -> None:
    services, paused, shown = PAUSES[case]
    host = private_dockerd.host
    site = private_deployments.make(f"pause-{case}", services)
    await asyncio.to_thread(site.up, "--wait")
    async with agent_on(private_deployments.root, tmp_path, smtp, host) as h:
        await async_wait_until(lambda: verdict_is(h, site.name, "healthy"), 30,
                               message="healthy before the pause")
        if paused is None:
            await asyncio.to_thread(site.compose, "pause")
            paused = sorted(services)
        else:
            await docker(host, "pause", *[container_of(site, s) for s in paused])
        async def all_paused() -> dict[str, Any] | None:
            # `compose pause` pauses one service after another: the verdict is `paused`
            # from the first one on
            body = await verdict_is(h, site.name, shown)
            return body if body is not None and all(
                body["services"][s]["status"] == "paused" for s in paused) else None

        body = await async_wait_until(all_paused, 15, message="paused verdict, every one")
        assert all(s in body["reason"] for s in paused), body["reason"]
        await async_assert_holds(lambda: verdict_is(h, site.name, shown), 4, interval=0.2,
                                 message="stays paused")
        assert (await h.desired(site.name) or {}).get("state") == "running"
        if len(paused) < len(services):  # the others keep running and say so
            assert "running" in body["reason"], body["reason"]

        if case == "compose-pause":
            await asyncio.to_thread(site.compose, "unpause")
        else:
            await docker(host, "unpause", *[container_of(site, s) for s in paused])
        await async_wait_until(lambda: verdict_is(h, site.name, "healthy"), 15,
                               message="healthy after unpause")
        # past the healthcheck's next run, and the notifier's grouping window
        await async_assert_holds(lambda: verdict_is(h, site.name, "healthy"), 5, interval=0.2,
                                 message="stays healthy")
        await nothing_ill(h, site, smtp)


async def test_pause_then_stop_is_a_stop_on_purpose(
    tmp_path: Path, private_deployments: DeploymentFactory,
    private_dockerd: PrivateDockerd, smtp: SmtpSink,
) -> None:
    host = private_dockerd.host
    async with healthy_under_agent("pause-stop", {"app": zoo.graceful()}, tmp_path,
                                   private_deployments, private_dockerd, smtp) as (site, h):
        app = container_of(site, "app")
        await docker(host, "pause", app)
        await async_wait_until(lambda: verdict_is(h, site.name, "paused"), 15, message="paused")
        await docker(host, "stop", app)
        await async_wait_until(lambda: verdict_is(h, site.name, "stopped"), 30,
                               message="stopped as desired")
        assert (await h.desired(site.name) or {}).get("state") == "stopped"
        await async_assert_holds(lambda: verdict_is(h, site.name, "stopped"), 3, interval=0.2,
                                 message="stays stopped")
        await nothing_ill(h, site, smtp)


@pytest.mark.parametrize("policy", ["no", "unless-stopped"])
async def test_pause_then_daemon_restart_comes_back_running(
    policy: str, tmp_path: Path, private_deployments: DeploymentFactory,
    private_dockerd: PrivateDockerd, smtp: SmtpSink,
) -> None:
    """The daemon's shutdown stops a paused container like any other (engine 20.10 unpauses
    it to stop it); after the restart it runs again, not paused, still wanted running."""
    host = private_dockerd.host
    site = private_deployments.make(f"pause-restart-{policy}",
                                    {"app": zoo.graceful(restart=policy)})
    await asyncio.to_thread(site.up, "--wait")
    async with agent_on(private_deployments.root, tmp_path, smtp, host) as h:
        await async_wait_until(lambda: verdict_is(h, site.name, "healthy"), 30,
                               message="healthy")
        await docker(host, "pause", container_of(site, "app"))
        await async_wait_until(lambda: verdict_is(h, site.name, "paused"), 15, message="paused")
        await asyncio.to_thread(private_dockerd.restart)
        body = await async_wait_until(lambda: verdict_is(h, site.name, "healthy"), 90,
                                      message="running again after the daemon restart")
        assert body["services"]["app"]["status"] == "running"
        assert (await h.desired(site.name) or {}).get("state") == "running"
        [summary] = await async_wait_until(
            lambda: [t for t in texts(smtp) if "SUMMARY" in t.splitlines()[0]], 60,
            message="restart summary")
        line = "brought back by stackmedic" if policy == "no" else "came back by itself"
        assert re.search(rf"- {line}: .*{site.name}", summary), summary
        assert problems(smtp, site.name) == [], subjects(smtp)
        assert resolved(smtp, site.name) == [], subjects(smtp)


PERSON_RESTARTS: dict[str, Callable[[Deployment, str], list[str] | None]] = {
    # id: the docker CLI arguments (None: a Compose command run by ``compose``)
    "docker-restart": lambda site, host: ["restart", container_of(site, "app")],
    "compose-restart": lambda site, host: None,
    "compose-up-recreate": lambda site, host: None,
    # db's stop timeout outlasts the stop settle and the start grace: Compose starts the
    # new app only once db's old container is gone, long after app's old one stopped.
    "compose-up-recreate-slow-stop": lambda site, host: None,
}
COMPOSE_ARGS = {"compose-restart": ("restart",),
                "compose-up-recreate": ("up", "-d", "--force-recreate"),
                "compose-up-recreate-slow-stop": ("up", "-d", "--force-recreate")}
DB_STOP_TIMEOUT = {"compose-up-recreate-slow-stop": "6s"}


@pytest.mark.parametrize("how", list(PERSON_RESTARTS))
async def test_person_restart_or_redeploy_is_no_episode(
    how: str, tmp_path: Path, private_deployments: DeploymentFactory,
    private_dockerd: PrivateDockerd, smtp: SmtpSink,
) -> None:
    host = private_dockerd.host
    slow = {"stop_grace_period": DB_STOP_TIMEOUT[how]} if how in DB_STOP_TIMEOUT else {}
    site = private_deployments.make(
        f"person-{how}", {"app": zoo.graceful(), "db": zoo.ignores_term(**slow)})
    await asyncio.to_thread(site.up, "--wait")
    async with agent_on(private_deployments.root, tmp_path, smtp, host) as h:
        await async_wait_until(lambda: verdict_is(h, site.name, "healthy"), 30,
                               message="healthy")
        before = await asyncio.to_thread(site.container_ids)
        started = await started_at(host, before)
        args = PERSON_RESTARTS[how](site, host)
        if args is None:
            await asyncio.to_thread(site.compose, *COMPOSE_ARGS[how])
        else:
            await docker(host, *args)
        await async_wait_until(lambda: verdict_is(h, site.name, "healthy"), 30,
                               message="healthy again")
        if how.startswith("compose-up-recreate"):
            assert set(await asyncio.to_thread(site.container_ids)).isdisjoint(before)
        # past stop_settle_seconds, when a stop would be judged, and the grouping window
        await async_assert_holds(lambda: verdict_is(h, site.name, "healthy"), 4, interval=0.2,
                                 message="stays healthy")
        assert (await h.desired(site.name) or {}).get("state") == "running"
        await nothing_ill(h, site, smtp)
        # The engine's record, not the verdicts: on a loaded host the agent may read a
        # quick restart only once it is over (each event's inspect shows the state then).
        after = await asyncio.to_thread(site.container_ids)
        assert after != before or await started_at(host, after) != started, "restarted"
        changed = await h.get("/api/events", params={"deployment": site.name,
                                                     "kind": "intent-changed"})
        recorded = [e["message"] for e in changed["items"]]
        assert recorded == ["first seen running; desired state recorded as running"], recorded


async def test_own_restart_shows_as_starting_not_down(
    tmp_path: Path, private_deployments: DeploymentFactory,
    private_dockerd: PrivateDockerd, smtp: SmtpSink,
) -> None:
    """A failing healthcheck: one WARNING problem; stackmedic's restart of the container is
    `starting` in the history, never `down` (no CRITICAL), then one RESOLVED."""
    host = private_dockerd.host
    site = private_deployments.make("own-restart", {"app": zoo.checked()})
    await asyncio.to_thread(site.up, "--wait")
    async with agent_on(private_deployments.root, tmp_path, smtp, host,
                                    health={"flap_seconds": 3}) as h:
        await async_wait_until(lambda: verdict_is(h, site.name, "healthy"), 30,
                               message="healthy")
        await docker(host, "exec", container_of(site, "app"), "rm", "/tmp/ok")
        await async_wait_until(lambda: resolved(smtp, site.name), 60,
                               message="resolved after stackmedic's restart")
        seen = await verdicts_seen(h, site.name)
        assert [v for v, _ in seen if v in ILL] == ["degraded"], seen
        assert any(v == "starting" and "stackmedic" in r for v, r in seen), seen
        done = await runs(h, site.name)
        assert [r["outcome"] for r in done] == ["recovered"], done
        assert len(problems(smtp, site.name)) == 1, subjects(smtp)
        assert not [s for s in subjects(smtp, site.name) if "CRITICAL" in s], subjects(smtp)


async def test_recovery_mends_a_failure_beside_a_paused_service_and_leaves_the_pause(
    tmp_path: Path, private_deployments: DeploymentFactory,
    private_dockerd: PrivateDockerd, smtp: SmtpSink,
) -> None:
    """db paused by a person, app's healthcheck fails: one WARNING problem about app,
    stackmedic restarts app only, db stays paused, and the problem ends as `paused`."""
    host = private_dockerd.host
    site = private_deployments.make("pause-beside", {"app": zoo.checked(), "db": zoo.graceful()})
    await asyncio.to_thread(site.up, "--wait")
    async with agent_on(private_deployments.root, tmp_path, smtp, host,
                        health={"flap_seconds": 3}) as h:
        await async_wait_until(lambda: verdict_is(h, site.name, "healthy"), 30,
                               message="healthy")
        db = container_of(site, "db")
        await docker(host, "pause", db)
        await async_wait_until(lambda: verdict_is(h, site.name, "paused"), 15, message="paused")
        await docker(host, "exec", container_of(site, "app"), "rm", "/tmp/ok")
        await async_wait_until(lambda: resolved(smtp, site.name), 60,
                               message="resolved once app is mended")
        body = await health(h, site.name)
        assert body["verdict"] == "paused", body
        assert body["services"]["db"]["status"] == "paused"
        assert body["services"]["app"]["status"] == "running"
        [run] = await runs(h, site.name)
        assert run["outcome"] == "recovered", run
        assert [a["service"] for a in run["actions"]] == ["app"], run
        inspected = await asyncio.to_thread(run_docker, "inspect", "-f", "{{.State.Status}}", db,
                                            docker_host=host)
        assert inspected.stdout.strip() == "paused"
        [problem] = problems(smtp, site.name)
        assert "WARNING" in problem and "app unhealthy" in problem, problem
        assert "db paused" in problem, problem
        assert "paused on purpose" in resolved(smtp, site.name)[0]


async def test_a_redeploy_whose_new_container_cannot_start_is_an_outage_not_a_stop(
    tmp_path: Path, private_deployments: DeploymentFactory,
    private_dockerd: PrivateDockerd, smtp: SmtpSink,
) -> None:
    """`docker compose up -d` after an edit that breaks app's entrypoint: Compose stops and
    removes the running app, and its new container cannot start (the engine sends no event
    for a failed start). That is a failed redeploy, not a person's stop: the deployment
    stays wanted running, its verdict names the start failure, and a problem mail says so."""
    async with healthy_under_agent("person-bad-redeploy", {"app": zoo.graceful()}, tmp_path,
                                   private_deployments, private_dockerd, smtp) as (site, h):
        doc = yaml.safe_load(site.compose_file.read_text())
        doc["services"]["app"]["entrypoint"] = ["/nonexistent"]
        site.write(doc)
        failed = await asyncio.to_thread(site.compose, "up", "-d", check=False)
        assert failed.returncode != 0, failed.stdout
        async def named() -> dict[str, Any] | None:
            body = await verdict_is(h, site.name, "down")
            return body if body and "start failed" in body["reason"] else None

        down = await async_wait_until(named, 60, message="down, naming the failed start")
        assert "app created (start failed:" in down["reason"], down
        assert "/nonexistent" in down["reason"], down
        await async_wait_until(lambda: problems(smtp, site.name), 30, message="a problem mail")
        assert (await h.desired(site.name) or {}).get("state") == "running"
        assert down["services"]["app"]["desired"] == "running", down
        ignored = await h.get("/api/events", params={"deployment": site.name,
                                                     "kind": "intent-ignored"})
        assert any("replaced by new ones" in e["message"] for e in ignored["items"]), ignored


async def test_a_redeploy_waiting_for_a_slow_healthcheck_is_no_episode(
    tmp_path: Path, private_deployments: DeploymentFactory,
    private_dockerd: PrivateDockerd, smtp: SmtpSink,
) -> None:
    """`docker compose up -d --force-recreate` where app `depends_on` db being healthy and
    db's check passes only after 6 s, longer than the stop settle and the start grace:
    Compose starts app's new container only then. A redeploy, not an outage or a stop."""
    services = {"db": zoo.slow_starter(delay=6),
                "app": zoo.graceful(depends_on={"db": {"condition": "service_healthy"}})}
    async with healthy_under_agent("person-redeploy-waits", services, tmp_path,
                                   private_deployments, private_dockerd, smtp) as (site, h):
        await asyncio.to_thread(site.compose, "up", "-d", "--force-recreate")
        await async_wait_until(lambda: verdict_is(h, site.name, "healthy"), 60,
                               message="healthy again")
        await async_assert_holds(lambda: verdict_is(h, site.name, "healthy"), 4, interval=0.2,
                                 message="stays healthy")
        await nothing_ill(h, site, smtp)
        seen = [v for v, _ in await verdicts_seen(h, site.name)]
        assert "deploying" in seen, seen
        changed = await h.get("/api/events", params={"deployment": site.name,
                                                     "kind": "intent-changed"})
        recorded = [e["message"] for e in changed["items"]]
        assert recorded == ["first seen running; desired state recorded as running"], recorded
