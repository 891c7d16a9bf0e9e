"""Reading survives restarts (nothing read twice, nothing lost) and a flood is read at a
bounded pace while health and other services' bursts are still seen at once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from support.agent import running_agent
from support.compose import crash_container, run_docker
from support.deployments import DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.lifecycle import email_channel
from support.servers import SmtpSink
from support.wait import async_wait_until, wait_until

from .test_bursts_agent import DB_RULE, burst, log_notices

TICK_RULE = {"name": "tick", "pattern": "^ERROR tick", "count": 5, "window_seconds": 30,
             "cooldown_seconds": 600, "quiet_seconds": 120}
TICKS = "for i in $$(seq 1 400); do echo \"ERROR tick $$i\"; usleep 20000; done; sleep 3600"


def config(smtp: SmtpSink, *rules: dict[str, Any], **logs: Any) -> dict[str, Any]:
    return {"notifications": email_channel(smtp),
            "logs": {"rules": list(rules), "flush_seconds": 0.5, **logs}}


async def counted(h: Any, name: str, rule: str) -> int:
    rows = (await h.get(f"/api/deployments/{name}/logs"))["top"]
    return sum(r["count"] for r in rows if r["rule"] == rule)


def printed(container: str, host: str, text: str) -> int:
    """How many lines holding ``text`` the container printed, as ``docker logs`` says."""
    out = run_docker("logs", container, docker_host=host).stdout
    return sum(1 for line in out.splitlines() if text in line)


def container_of(site: Any, name: str) -> str:
    return str(next(c["ID"] for c in site.ps() if c["Service"] == name))


async def test_a_container_restarted_mid_burst_is_read_on_without_gaps_or_repeats(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    site = private_deployments.make("restart", {"ticker": service(TICKS)})
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host,
                             **config(smtp, TICK_RULE)) as h:
        await h.wait_listed(site.name)
        site.up()
        cid = container_of(site, "ticker")
        await async_wait_until(lambda: _at_least(counted(h, site.name, "tick"), 30), 60,
                               message="the burst being read")
        run_docker("restart", "--time", "0", cid, docker_host=private_dockerd.host)
        wait_until(lambda: printed(cid, private_dockerd.host, "ERROR tick 30") >= 2, 60,
                   message="the restarted container printing again")
        site.stop()  # no more lines: what was printed can be compared with what was read
        total = printed(cid, private_dockerd.host, "ERROR tick")
        await async_wait_until(lambda: _at_least(counted(h, site.name, "tick"), total), 30,
                               message=f"all {total} lines read")
        assert await counted(h, site.name, "tick") == total
        assert len(await log_notices(h, "log-pattern")) == 1


async def test_the_agent_restarted_mid_burst_reads_on_where_it_stopped(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    site = private_deployments.make("agent", {"ticker": service(TICKS)})
    settings = config(smtp, TICK_RULE)
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host, **settings) as h:
        await h.wait_listed(site.name)
        site.up()
        await async_wait_until(lambda: _at_least(counted(h, site.name, "tick"), 30), 60,
                               message="the burst being read")
        await async_wait_until(lambda: log_notices(h, "log-pattern"), 30, message="notice")
    cid = container_of(site, "ticker")
    before = printed(cid, private_dockerd.host, "ERROR tick")
    wait_until(lambda: printed(cid, private_dockerd.host, "ERROR tick") > before + 20, 30,
               message="lines printed while the agent was away")
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host, **settings) as h:
        wait_until(lambda: printed(cid, private_dockerd.host, "ERROR tick 400") == 1, 60,
                   message="the burst ended")
        total = printed(cid, private_dockerd.host, "ERROR tick")
        await async_wait_until(lambda: _at_least(counted(h, site.name, "tick"), total), 30,
                               message=f"all {total} lines read")
        assert await counted(h, site.name, "tick") == total
        assert len(await log_notices(h, "log-pattern")) == 1  # the same problem, told once


async def test_a_flood_is_read_at_a_bounded_pace_and_detection_stays_fast(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    bounded = {"driver": "json-file", "options": {"max-size": "5m", "max-file": "2"}}
    site = private_deployments.make("flood", {
        "flood": service("while :; do echo 'flood line that matches no rule'; done",
                         logging=bounded),
        "victim": service("sleep 3600"),
        "worker": service(burst("ERROR could not connect to database $i", 5, "sleep 3600")
                          .replace("for", "sleep 4; for", 1)),
    })
    settings = config(smtp, DB_RULE, max_lines_per_second=2000, max_lag_seconds=3)
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host, **settings) as h:
        await h.wait_listed(site.name)
        site.up()
        await async_wait_until(lambda: _flood(h, site.name, lambda r: r["lines"] > 2000), 60,
                               message="the flood being read")
        first = await _flood(h, site.name, lambda r: True)
        began = time.monotonic()
        await async_wait_until(lambda: _flood(h, site.name, lambda r: r["gaps"] >= 1), 30,
                               message="the flood skipped ahead once it fell behind")
        later = await _flood(h, site.name, lambda r: True)
        assert first is not None and later is not None
        await async_wait_until(lambda: log_notices(h, "log-pattern"), 30,
                               message="the worker's burst told during the flood")
        crash_container(container_of(site, "victim"), private_dockerd.host)

        async def ill() -> bool:
            health = await h.get(f"/api/deployments/{site.name}/health")
            return health["verdict"] in ("degraded", "down")

        await async_wait_until(ill, 15, message="a crash seen during the flood")
        read = await _flood(h, site.name, lambda r: True)
        elapsed = time.monotonic() - began
        assert read is not None and first is not None
        # The pace: the budget per second, give or take the read that crossed it.
        assert read["lines"] - first["lines"] <= 2000 * (elapsed + 2), (read, elapsed)


async def _flood(h: Any, name: str, ok: Any) -> dict[str, Any] | None:
    rows = (await h.get(f"/api/deployments/{name}/logs"))["containers"]
    row = next((r for r in rows if r["service"] == "flood"), None)
    return row if row is not None and ok(row) else None


async def _at_least(found: Any, wanted: int) -> bool:
    return bool(await found >= wanted)
