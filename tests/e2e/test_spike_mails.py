"""Spikes reach a person by real mail with the shipped rules, windows shortened in the config.

A CPU burner whose quota the test keeps changing, so that single samples dip below the
threshold while the average stays above it: one problem mail, one resolved mail once it
stops. Three burners across the host's cores: a host CPU mail naming them.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from pathlib import Path
from typing import Any

from stackmedic.resources import ResourcesConfig
from support.agent import AgentHandle, running_agent
from support.compose import run_docker
from support.deployments import DeploymentFactory, service
from support.mails import mail_settings, problems, resolved, texts
from support.servers import SmtpSink
from support.wait import async_assert_holds, async_wait_until

# Burns until /tmp/stop exists, then idles: the spike ends, the container stays.
BURN = "while [ ! -e /tmp/stop ]; do :; done; sleep 3600"
# A tiny CPU limit, so that the burner gets all of it even on a heavily loaded host
# (measured at load 94 on 2 cores: a 0.25-core burner got 0.16, a 0.01-core one all of it);
# the rule reads busy as percent of a limit below one core.
LIMIT = 0.0125  # cores
DIP = 0.01  # cores (the least Docker sets), two seconds in seven: 80 % of the limit


def rules_with(**windows: float) -> list[dict[str, Any]]:
    """The shipped rules as the example config lists them, some windows shortened."""
    rules = [r.model_dump(mode="json") for r in ResourcesConfig().rules]
    for rule in rules:
        rule["for_seconds"] = windows.get(rule["name"].replace("-", "_"), rule["for_seconds"])
    return rules


def user_config(smtp: SmtpSink, **windows: float) -> dict[str, Any]:
    return mail_settings(smtp, recover=False, resources={
        "sample_interval_seconds": 1, "rules": rules_with(**windows)})


async def docker(*args: str) -> None:
    await asyncio.to_thread(run_docker, *args)


async def vary_quota(container: str) -> None:
    """Five seconds at the limit, two below it, until cancelled.

    Two seconds, so that at least one 1-s sample lies wholly inside each dip however the
    sampler's ticks fall (a one-second dip was split across two samples, both above 90).
    """
    while True:
        await asyncio.sleep(5)
        await docker("update", "--cpus", str(DIP), container)
        await asyncio.sleep(2)
        await docker("update", "--cpus", str(LIMIT), container)


async def busy_figures(h: AgentHandle, name: str, since: float) -> list[float]:
    """The burner's busy figures (% of its limit, as the rule reads them) since a time."""
    series = await h.get(f"/api/deployments/{name}/resources", params={"since": since})
    fields = series["fields"]
    burner = next(c for c in series["containers"] if c["service"] == "burn")
    at = fields.index("cpu_percent"), fields.index("cpu_core_percent")
    return [max(p[at[0]], p[at[1]]) for p in burner["points"] if p[at[0]] is not None]


async def test_a_jittery_cpu_spike_mails_once_and_resolves_once(
    tmp_path: Path, deployments: DeploymentFactory, smtp: SmtpSink
) -> None:
    site = deployments.make("jitter", {
        "burn": service(BURN, cpus=LIMIT, cpu_shares=262144),
        "idle": service("sleep 3600"),
    })
    site.up()
    burner = next(c["ID"] for c in site.ps() if c["Service"] == "burn")
    config = user_config(smtp, container_cpu_high=20)
    async with running_agent(tmp_path / "data", deployments.root, **config) as h:
        await h.wait_listed(site.name)
        started = time.time()
        varying = asyncio.create_task(vary_quota(burner))
        try:
            await async_wait_until(lambda: problems(smtp, site.name), 120,
                                   message="a problem mail about the burner")
            figures = await busy_figures(h, site.name, started)
        finally:
            varying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await varying
        # What the old every-sample rule tripped on, while the average stayed above 90.
        assert sum(v < 90 for v in figures) >= 2, figures
        assert statistics.fmean(figures[-20:]) > 90, figures

        [mail] = texts(smtp, site.name)
        assert f"{site.name}/burn: CPU averaged" in mail and "% busy over 20 s" in mail
        assert "(threshold 90)" in mail and "container-cpu-high" in mail
        assert "top consumers" in mail and "burn" in mail.split("top consumers", 1)[1]

        await docker("update", "--cpus", str(LIMIT), burner)
        await docker("exec", burner, "sh", "-c", ": > /tmp/stop")
        await async_wait_until(lambda: resolved(smtp, site.name), 60,
                               message="a resolved mail once the burner stopped")
        await async_assert_holds(
            lambda: len(problems(smtp, site.name)) == len(resolved(smtp, site.name)) == 1, 5,
            message="one problem mail and one resolved mail")
        [end] = [t for t in texts(smtp, site.name) if "RESOLVED" in t.split("\n", 1)[0]]
        assert "CPU back to" in end and "below 80" in end
        alerts = (await h.get("/api/alerts", params={"state": "resolved"}))["items"]
        assert [(a["rule"], a["reason"]) for a in alerts] == [
            ("container-cpu-high", "below clear threshold")]


async def test_several_burners_across_cores_are_a_host_cpu_spike(
    tmp_path: Path, deployments: DeploymentFactory, smtp: SmtpSink
) -> None:
    site = deployments.make("hostburn", {
        f"burn{i}": service(BURN, cpu_shares=262144) for i in range(3)})
    site.up()
    # Other work may hold this host's CPU high already: a 30-s window gives the agent time
    # to find the burners (even with a daemon slow to answer) before the rule can fire.
    config = user_config(smtp, host_cpu_high=30, host_cpu_critical=30)
    async with running_agent(tmp_path / "data", deployments.root, **config) as h:
        await h.wait_listed(site.name)

        def host_mails() -> list[str]:
            return [t for t in texts(smtp, "host: CPU") if "PROBLEM" in t.split("\n", 1)[0]]

        await async_wait_until(host_mails, 90, message="a host CPU mail")
        mail = host_mails()[0]
        assert "host: CPU averaged" in mail and "% of all cores over 30 s" in mail
        assert "host-cpu-high" in mail or "host-cpu-critical" in mail
        consumers = mail.split("top consumers", 1)[1]
        assert all(f"{site.name}/burn{i}" in consumers for i in range(3)), mail
        firing = (await h.get("/api/alerts", params={"state": "firing"}))["items"]
        assert {a["subject"] for a in firing if a["rule"].startswith("host-cpu")} == {"host"}
