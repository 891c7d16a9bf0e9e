"""A running agent reads its deployments' logs: bursts become one notice each, resolved
after quiet, grouped by fingerprint; the top fingerprints show in the API."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from support.agent import running_agent
from support.deployments import DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.lifecycle import email_channel, mails
from support.servers import SmtpSink
from support.wait import async_assert_holds, async_wait_until

DB_RULE = {"name": "db-down", "pattern": "could not connect to database", "count": 5,
           "window_seconds": 30, "cooldown_seconds": 600, "quiet_seconds": 3}
CACHE_RULE = {"name": "cache-miss", "pattern": "cache server .* refused", "count": 3,
              "window_seconds": 30, "cooldown_seconds": 600, "quiet_seconds": 3}


def logs_config(smtp: SmtpSink, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"notifications": email_channel(smtp),
            "logs": {"rules": list(rules), "flush_seconds": 0.5}}


def burst(text: str, count: int, then: str = "sleep 3600") -> str:
    """A shell loop printing ``text`` (with $i for the line number) ``count`` times
    (``$$`` in a compose file is one ``$`` for the shell)."""
    text = text.replace("$i", "$$i")
    return f'for i in $$(seq 1 {count}); do echo "{text}"; done; {then}'


async def test_a_burst_is_one_notice_with_its_fingerprint_and_count_then_resolved(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    line = "ERROR could not connect to database at 10.0.0.$i:5432 request $i"
    site = private_deployments.make("app", {"web": service(burst(line, 40)),
                                            "quiet": service("sleep 3600")})
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host,
                             **logs_config(smtp, DB_RULE)) as h:
        await h.wait_listed(site.name)
        site.up()

        def told() -> list[str]:
            return [m.subject for m in mails(smtp) if "could not connect" in m.subject]

        await async_wait_until(told, 60, message="the burst's notice")
        top = await async_wait_until(
            lambda: _top(h, site.name, lambda rows: rows and rows[0]["count"] == 40),
            30, message="40 lines of one fingerprint")
        assert len(top) == 1, top  # forty ids and addresses, one fingerprint
        assert top[0]["rule"] == "db-down" and top[0]["service"] == "web"
        mail = next(m for m in mails(smtp) if "could not connect" in m.subject)
        assert top[0]["fingerprint"] in mail.text and "db-down" in mail.text
        await async_wait_until(
            lambda: [m for m in mails(smtp) if "quiet" in m.subject], 30,
            message="the resolved notice after quiet")
        assert len(await log_notices(h, "log-pattern")) == 1
        assert len(await log_notices(h, "log-pattern-resolved")) == 1
        health = await h.get(f"/api/deployments/{site.name}/health")
        assert health["verdict"] == "healthy"  # a log rule tells; it does not judge health

        cli = await asyncio.to_thread(run_cli, h, tmp_path, "logs", site.name, "--top")
        assert cli.returncode == 0, cli.stderr
        assert top[0]["fingerprint"] in cli.stdout and "db-down" in cli.stdout
        assert "40" in cli.stdout.split(top[0]["fingerprint"])[1].splitlines()[0]
        page = await dashboard_page(h, f"/deployments/{site.name}")
        assert "Log fingerprints" in page and top[0]["fingerprint"] in page


async def test_two_different_errors_are_two_fingerprints_and_two_notices(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    first = burst("ERROR could not connect to database id=$i", 6, "true")
    second = burst("WARN cache server 10.1.1.$i refused the connection", 4)
    site = private_deployments.make("two", {"web": service(f"{first}; {second}")})
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host,
                             **logs_config(smtp, DB_RULE, CACHE_RULE)) as h:
        await h.wait_listed(site.name)
        site.up()
        rows = await async_wait_until(
            lambda: _top(h, site.name, lambda r: len(r) == 2 and sum(x["count"] for x in r) == 10),
            60, message="two fingerprints")
        assert sorted(r["rule"] for r in rows) == ["cache-miss", "db-down"]
        fingerprints = sorted(r["fingerprint"] for r in rows)

        async def told() -> list[str]:
            return sorted(f.rsplit(":", 1)[1] for f in await log_notices(h, "log-pattern"))

        await async_wait_until(lambda: _equal(told(), fingerprints), 30, message="two notices")
        await async_assert_holds(lambda: _equal(told(), fingerprints), 2,
                                 message="one notice per fingerprint")
        text = "\n".join(m.text for m in mails(smtp) if "PROBLEM" in m.subject)
        assert all(f in text for f in fingerprints), text


def run_cli(h: Any, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``stackmedic`` CLI run against the in-process agent (call it off the loop)."""
    settings = h.agent.settings
    config = folder / "cli.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(settings.data_dir),
                                      "api": {"port": h.agent.server.port}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STACKMEDIC_")}
    return subprocess.run([sys.executable, "-m", "stackmedic", *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=60, env=env, check=False)


async def dashboard_page(h: Any, path: str) -> str:
    """The dashboard's HTML of ``path``, logged in with the operator token."""
    base = str(h.api.base_url).rstrip("/")
    async with httpx.AsyncClient(base_url=base, follow_redirects=True) as browser:
        form = (await browser.get("/login")).text
        nonce = re.search(r'name="nonce" value="([^"]+)"', form)
        assert nonce is not None, form
        await browser.post("/login", data={"token": h.agent.token, "nonce": nonce.group(1),
                                           "next": path}, headers={"Origin": base})
        answer = await browser.get(path)
        answer.raise_for_status()
        return answer.text


async def log_notices(h: Any, kind: str) -> list[str]:
    """The notifier fingerprint of every event of ``kind`` queued so far."""
    rows = (await h.get("/api/notifications", params={"limit": 100}))["items"]
    return [e["fingerprint"] for row in rows for e in row["events"] if e["kind"] == kind]


async def _equal(found: Any, wanted: Any) -> bool:
    return bool(await found == wanted)


async def _top(h: Any, name: str, ok: Any) -> list[dict[str, Any]] | None:
    rows: list[dict[str, Any]] = (await h.get(f"/api/deployments/{name}/logs"))["top"]
    return rows if ok(rows) else None


async def test_a_tty_container_is_read_line_by_line(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    line = "ERROR could not connect to database session $i"
    site = private_deployments.make("tty", {"web": service(burst(line, 12), tty=True)})
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host,
                             **logs_config(smtp, DB_RULE)) as h:
        await h.wait_listed(site.name)
        site.up()
        rows = await async_wait_until(
            lambda: _top(h, site.name, lambda r: r and r[0]["count"] == 12), 60,
            message="12 lines of one fingerprint")
        assert rows[0]["first_line"] == "ERROR could not connect to database session 1"
        containers = (await h.get(f"/api/deployments/{site.name}/logs"))["containers"]
        assert [c["tty"] for c in containers] == [True]


async def test_odd_output_and_unreadable_drivers_are_stated_and_reading_goes_on(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    odd = ("head -c 4000 /dev/urandom; echo; printf 'ERROR \\377\\376 not utf-8\\n'; "
           "head -c 10000000 /dev/zero | tr '\\000' x; echo; "
           "echo 'ERROR could not connect to database after odd output'; sleep 3600")
    site = private_deployments.make("odd", {
        "odd": service(odd),
        "silent": service("sleep 3600"),
        "dropped": service(burst("ERROR could not connect to database $i", 50),
                           logging={"driver": "none"}),
        # Read back from the engine's own cache (dual logging), not from syslog.
        "syslogged": service("echo 'ERROR could not connect to database via syslog'; "
                             "sleep 3600", logging={"driver": "syslog", "options": {
                                 "syslog-address": "udp://127.0.0.1:5514"}}),
    })
    rule = {**DB_RULE, "count": 1}
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host,
                             **logs_config(smtp, rule)) as h:
        await h.wait_listed(site.name)
        site.up()

        async def states() -> dict[str, dict[str, Any]] | None:
            rows = (await h.get(f"/api/deployments/{site.name}/logs"))["containers"]
            found = {r["service"]: r for r in rows}
            odd_read = found.get("odd", {}).get("cut_lines", 0) >= 1
            return found if odd_read and len(found) == 4 else None

        found = await async_wait_until(states, 60, message="the odd output read")
        assert found["odd"]["state"] == "following"
        assert found["silent"]["state"] == "following" and found["silent"]["lines"] == 0
        assert found["dropped"]["state"] == "unreadable"
        assert "none" in found["dropped"]["detail"]
        rows = await async_wait_until(
            lambda: _top(h, site.name, lambda r: len(_of_rule(r, "db-down")) == 2), 30,
            message="the line after the odd output and the syslog driver's line matched")
        assert {(r["service"], r["first_line"].split("database ")[1])
                for r in _of_rule(rows, "db-down")} == {
            ("odd", "after odd output"), ("syslogged", "via syslog")}
        # The invalid UTF-8 line is read with replacement characters (the built-in
        # error-burst rule counts ERROR lines).
        assert any("\ufffd\ufffd not utf-8" in r["first_line"]
                   for r in _of_rule(rows, "error-burst"))
        await async_assert_holds(
            lambda: _state_of(h, site.name, "dropped", "unreadable"), 2,
            message="the unreadable container stays stated, not retried")
        health = await h.get(f"/api/deployments/{site.name}/health")
        assert health["verdict"] == "healthy"


def _of_rule(rows: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["rule"] == rule]


async def _state_of(h: Any, name: str, service_name: str, state: str) -> bool:
    rows = (await h.get(f"/api/deployments/{name}/logs"))["containers"]
    return any(r["service"] == service_name and r["state"] == state for r in rows)


async def test_a_rule_that_affects_health_degrades_the_verdict_while_it_fires(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    smtp: SmtpSink,
) -> None:
    rule = {**DB_RULE, "affects_health": True, "quiet_seconds": 4}
    site = private_deployments.make("sick", {
        "web": service(burst("ERROR could not connect to database $i", 10))})
    async with running_agent(tmp_path / "data", private_deployments.root,
                             docker_host=private_dockerd.host,
                             **logs_config(smtp, rule)) as h:
        await h.wait_listed(site.name)
        site.up()

        async def verdict(wanted: str) -> dict[str, Any] | None:
            health: dict[str, Any] = await h.get(f"/api/deployments/{site.name}/health")
            return health if health["verdict"] == wanted else None

        degraded = await async_wait_until(lambda: verdict("degraded"), 60,
                                          message="degraded by the log rule")
        assert "db-down" in degraded["reason"]
        # The fingerprints of the last minutes are part of what a diagnosis looks at.
        # The rule fires before the tenth line is read: the count catches up.
        async def fingerprints() -> list[tuple[str, str, int]] | None:
            diagnosis = (await h.post(f"/api/deployments/{site.name}/diagnose")).json()
            found = [(f["rule"], f["service"], f["count"])
                     for f in diagnosis["evidence"]["log_fingerprints"]]
            return found if found == [("db-down", "web", 10)] else None

        await async_wait_until(fingerprints, 30, message="all ten lines in the evidence")
        await async_wait_until(lambda: verdict("healthy"), 30, message="healthy after quiet")
